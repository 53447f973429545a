#pragma once
// Synthetic compositional image/caption data: datasets/src/synth_composition.cpp.
#include "vlb/datasets/dataset.h"

namespace vlb {
void register_synth_composition_source(DatasetRegistry& reg);
}  // namespace vlb
