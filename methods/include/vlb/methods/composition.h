#pragma once
// Visual composition (contrastive heads on frozen embeddings) and its baseline:
// methods/composition/, docs/composition.md.
#include "vlb/methods/method.h"

namespace vlb {
/// contrastive_heads, raw_similarity.
void register_composition_methods(MethodRegistry& reg);
}  // namespace vlb
