#pragma once
// `h5`: an existing schema-v1 feature file as a dataset source (datasets/src/h5.cpp). The HDF5
// C API layer the feature store reads and writes with is vlb/datasets/hdf5.h.
#include <string>

#include "vlb/datasets/dataset.h"

namespace vlb {

struct H5SourceOptions {
  std::string path;  // required: the .h5 feature file
};

void register_h5_source(DatasetRegistry& reg);

}  // namespace vlb
