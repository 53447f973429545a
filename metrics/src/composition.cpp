#include "vlb/metrics/composition.h"

namespace vlb {
void register_composition_metrics(MetricRegistry& /*reg*/) {}
}  // namespace vlb
