// Real zero-shot on Stanford Cars: the CLIP ViT-B/32 prompt-ensembled classifier stored next to
// the features (one text row per class) converts in one command and `vlb run zeroshot` on it
// scores what an independent numpy argmax-cosine computation scores (skipped without the data).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "test_support.h"

namespace fs = std::filesystem;
using vlb::test::run_cli;
using vlb::test::TempDir;

namespace {

// Argmax cosine to the class rows, in float64, with the class rows re-normalized after fp16 (as
// CLIP and `zeroshot` do) and as stored; prints "correct_renormalized correct_as_stored total".
const char* kNumpyZeroShot = R"(
import sys, numpy as np
d = sys.argv[1]
x = np.load(d + '/test_features.npy').astype(np.float64)
y = np.load(d + '/test_labels.npy')
w = np.load(d + '/text_features.npy').astype(np.float64)
x /= np.linalg.norm(x, axis=1, keepdims=True)
unit = w / np.linalg.norm(w, axis=1, keepdims=True)
print(int(((x @ unit.T).argmax(1) == y).sum()), int(((x @ w.T).argmax(1) == y).sum()), len(y))
)";

TEST(RealZeroShot, StanfordCarsClassifierMatchesNumpy) {
  VLB_REQUIRE_SHARED_DATA(data);
  std::string py = vlb::test::system_python_with("numpy");
  if (py.empty()) GTEST_SKIP() << "/usr/bin/python3 with numpy not available: numpy reference skipped";
  const std::string src = data + "/clip_vit_b32/stanford_cars";
  TempDir t;
  vlb::test::write_text(t / "zs.py", kNumpyZeroShot);
  auto ref = vlb::test::run_command(py + " " + t / "zs.py " + src);
  ASSERT_EQ(ref.exit_code, 0) << ref.output;
  int correct = 0, as_stored = 0, total = 0;
  std::istringstream(ref.output) >> correct >> as_stored >> total;
  ASSERT_EQ(total, 1635) << ref.output;
  // The classifier's known accuracy, 58.96 %, is scored with the fp16 rows as stored; their norms
  // are 1 only to fp16 precision, and re-normalizing flips one near-tie (cosine gap 1.6e-6):
  // 963 rows, 58.90 %. Both pinned, so a changed file is noticed here.
  EXPECT_EQ(as_stored, 964) << ref.output;
  EXPECT_EQ(correct, 963) << ref.output;

  // One command: --dir finds text_features.npy, one row per class -> the class name prompts.
  auto r = run_cli("convert npy --dir " + src + " --out " + t / "cars.h5" + " --feature-model openai/ViT-B-32");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  vlb::test::write_text(t / "spec.yaml",
                        "experiment: cars_zs\n"
                        "dataset: {source: h5, params: {path: '" + t / "cars.h5" +
                            "'}, train_split: train, eval_split: test}\n"
                        "methods: [{name: zeroshot}]\n"
                        "metrics: [top1]\n"
                        "runtime: {threads: 2, seeds: [0]}\n");
  r = run_cli("run " + t / "spec.yaml" + " --results " + t / "results");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  int runs = 0;
  for (const auto& e : fs::directory_iterator(t / "results/cars_zs")) {
    if (e.path().filename().string()[0] == '.' || !fs::exists(e.path() / "metrics.json")) continue;
    auto m = nlohmann::json::parse(vlb::test::read_text((e.path() / "metrics.json").string()));
    ASSERT_EQ(m["status"], "ok") << m.dump();
    double top1 = m["metrics"]["cls/top1"].get<double>();
    // Three rows have top-2 cosine gaps of 1.6-3.2e-6, near float32 rounding of a 512-d dot
    // product: one row either way, no more (this machine: exactly numpy's 963).
    EXPECT_NEAR(static_cast<double>(std::lround(top1 * total)), correct, 1.0)
        << "vlb " << top1 << ", numpy " << correct << "/" << total;
    std::cout << "[real] stanford_cars zeroshot top1 = " << top1 << " (numpy " << correct << "/" << total << ")\n";
    ++runs;
  }
  EXPECT_EQ(runs, 1);
}

}  // namespace
