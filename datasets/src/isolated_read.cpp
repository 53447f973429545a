#include "vlb/datasets/isolated_read.h"

#include <ATen/Parallel.h>

namespace vlb {

IsolationOptions reader_isolation() {
  IsolationOptions o;
  o.child_setup = [] { at::set_num_threads(1); };
  return o;
}

}  // namespace vlb
