#include "vlb/datasets/synth_noisy.h"

namespace vlb {
void register_synth_noisy_source(DatasetRegistry& /*reg*/) {}
}  // namespace vlb
