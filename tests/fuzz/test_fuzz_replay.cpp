// Replays every committed fuzz input (seeds and past crashes) through the same entry functions the
// libFuzzer targets call: seconds in CI, no fuzzing. tests/fuzz/run.sh is what fuzzes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "fuzz_entries.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {

TEST(FuzzReplay, EveryCorpusFileOfEveryTarget) {
  const fs::path root = fs::path(vlb::test::source_dir()) / "tests/fuzz/corpus";
  for (const auto& t : vlb::fuzz::targets()) {
    const fs::path dir = root / t.name;
    ASSERT_TRUE(fs::is_directory(dir)) << "no corpus for target " << t.name << " (" << dir << ")";
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (!e.is_regular_file()) continue;
      std::ifstream f(e.path(), std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      SCOPED_TRACE(e.path().string());
      EXPECT_NO_THROW(t.fn(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
      ++n;
    }
    EXPECT_GT(n, 0) << "empty corpus for target " << t.name;
  }
}

}  // namespace
