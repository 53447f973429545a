#include "vlb/methods/near.h"

namespace vlb {
void register_near_methods(MethodRegistry& /*reg*/) {}
}  // namespace vlb
