#include "vlb/methods/composition.h"

namespace vlb {
void register_composition_methods(MethodRegistry& /*reg*/) {}
}  // namespace vlb
