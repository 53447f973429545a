#pragma once
// Seeded K-shot sampling of a training view: the usual few-shot protocol (CoOp, Tip-Adapter),
// where each seed draws a different K images per class.
#include <cstdint>

#include "vlb/datasets/dataset.h"

namespace vlb {

/// Keeps at most `shots` rows per class, drawn without replacement with a generator seeded by
/// `seed` alone (independent of torch's global generator and of the thread count). Classes with
/// fewer rows keep all of them; rows with label -1 are dropped. The result's rows stay sorted.
/// shots <= 0 returns the view unchanged.
DataView sample_shots(const DataView& view, int64_t shots, uint64_t seed);

}  // namespace vlb
