#pragma once
// The rows a run selects on (experiments/SPEC.md "Model selection"): a named split, or K rows per
// class drawn from what the K-shot training draw left of the train split.
#include <cstdint>

#include "vlb/datasets/dataset.h"
#include "vlb/experiments/spec.h"

namespace vlb {

/// The seed of the validation draw of a run with seed `run_seed`: a stream of its own, so that the
/// training draw (seeded by the run seed itself, fewshot.h) is the same with and without select.
uint64_t validation_seed(uint64_t run_seed);

/// The selection rows of run `c`, whose training view is `train` (drawn from c.train_split as
/// every run draws it). With a named split: that split. With val_shots: K rows per class of
/// c.train_split not in `train`, drawn with validation_seed(c.seed); classes with fewer keep all
/// of theirs (the plan refuses a spec where that happens, SPEC.md).
DataView selection_view(const Dataset& ds, const RunConfig& c, const DataView& train);

}  // namespace vlb
