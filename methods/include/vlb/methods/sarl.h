#pragma once
// SARL (multi-label recognition with partial labels) and its baselines: methods/sarl/, docs/sarl.md.
#include "vlb/methods/method.h"

namespace vlb {
/// sarl, global_linear, global_zeroshot, sarl_no_decouple, sarl_shared_text.
void register_sarl_methods(MethodRegistry& reg);
}  // namespace vlb
