#include "vlb/datasets/synth_composition.h"

namespace vlb {
void register_synth_composition_source(DatasetRegistry& /*reg*/) {}
}  // namespace vlb
