#pragma once
// Synthetic fine-grained data with simulated noisy MLLM labels (NeaR): datasets/src/synth_noisy.cpp.
#include "vlb/datasets/dataset.h"

namespace vlb {
void register_synth_noisy_source(DatasetRegistry& reg);
}  // namespace vlb
