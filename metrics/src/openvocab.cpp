#include "vlb/metrics/openvocab.h"

namespace vlb {
void register_openvocab_metrics(MetricRegistry& /*reg*/) {}
}  // namespace vlb
