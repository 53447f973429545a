// libFuzzer target: vlb::fuzz::predictions (tests/fuzz/fuzz_entries.h). Built by tests/fuzz/run.sh only.
#include "fuzz_entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vlb::fuzz::predictions(data, size);
  return 0;
}
