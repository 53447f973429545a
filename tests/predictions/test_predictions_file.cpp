// predictions.h5 in every run directory: contents checked with h5py against the dataset file and
// the run's own metrics.json, the auto -> top-k switch, the top-k order, and predictions: none.
#include <gtest/gtest.h>

#include <filesystem>

#include "spec_runs.h"

namespace {

namespace fs = std::filesystem;
using vlb::test::TempDir;

const char* kClsSpec =
    "experiment: pcls\n"
    "dataset:\n"
    "  source: synth\n"
    "  params: {classes: 6, dim: 8, train_per_class: 5, test_per_class: 4, seed: 3}\n"
    "methods: [{name: ncm}, {name: zeroshot}]\n"
    "metrics: [top1, mean_per_class]\n"
    "runtime: {threads: 1, seeds: [0]}\n";

// Checks one run directory with h5py: rows/labels against the dataset file, the checksums, and
// top-1 / mean per class from the stored scores (full) or ids (top-k) against metrics.json.
const char* kCheckScript = R"PY(
import sys, json, hashlib, h5py, numpy as np
run = sys.argv[1]
m = json.load(open(run + '/metrics.json'))
env = json.load(open(run + '/env.json'))
p = h5py.File(run + '/predictions.h5', 'r')
d = h5py.File(env['dataset']['path'], 'r')
rows = p['/rows'][()]
assert p['/rows'].dtype == np.int64
assert rows.tolist() == d['/splits/test'][()].tolist(), 'rows are not the test split'
label = p['/label'][()]
assert label.tolist() == d['/images/label'][()][rows].tolist(), 'labels differ from the dataset'
assert p.attrs['run_key'] == m['run_key']
assert p.attrs['dataset_fingerprint'] == m['dataset_fingerprint']
assert p.attrs['task'] == 'classification'
assert p.attrs['format'] == 'vlb-predictions/1'
assert int(p.attrs['format_version']) == 1
assert set(json.loads(p.attrs['metrics'])) == {'top1', 'mean_per_class'}
C = int(p.attrs['num_classes'])
assert C == len(d['/classes/names'])
def visit(name, obj):
    if isinstance(obj, h5py.Dataset) and obj.dtype.kind != 'O':
        assert obj.attrs['sha256'] == hashlib.sha256(obj[()].tobytes()).hexdigest(), name
p.visititems(visit)
mode = p.attrs['mode']
assert m['predictions'] == {'file': 'predictions.h5', 'mode': mode}, m.get('predictions')
if mode == 'full':
    s = p['/scores'][()]
    assert s.dtype == np.float32 and s.shape == (len(rows), C), (s.dtype, s.shape)
    top = np.argmax(s, axis=1)  # first maximum: the metrics' tie rule
else:
    ids = p['/topk/ids'][()]
    assert ids.shape == (len(rows), int(p.attrs['topk'])), ids.shape
    top = ids[:, 0]
top1 = float(np.mean(top == label))
assert top1 == m['metrics']['cls/top1'], (top1, m['metrics']['cls/top1'])
per = [np.mean(top[label == c] == c) for c in np.unique(label)]
assert abs(float(np.mean(per)) - m['metrics']['cls/mean_per_class']) < 1e-12
print(mode)
)PY";

std::string python_or_skip() { return vlb::test::system_python_with("numpy, h5py"); }

TEST(PredictionsFile, FullScoresAgreeWithDatasetAndMetrics) {
  std::string py = python_or_skip();
  if (py.empty()) GTEST_SKIP() << "/usr/bin/python3 with numpy + h5py not found: h5py check skipped";
  TempDir dir;
  std::string exp = vlb::test::run_tiny(dir, "pcls", kClsSpec);
  vlb::test::write_text(dir / "check.py", kCheckScript);
  auto runs = vlb::test::run_paths(exp);
  ASSERT_EQ(runs.size(), 2u);
  for (const auto& run : runs) {
    auto r = vlb::test::run_command(py + " " + (dir / "check.py") + " " + run);
    EXPECT_EQ(r.exit_code, 0) << run << "\n" << r.output;
    EXPECT_NE(r.output.find("full"), std::string::npos) << r.output;
  }
}

TEST(PredictionsFile, AutoSwitchesToTopkAboveTheCap) {
  std::string py = python_or_skip();
  if (py.empty()) GTEST_SKIP() << "/usr/bin/python3 with numpy + h5py not found: h5py check skipped";
  TempDir dir;
  // 24 rows x 6 classes x 4 bytes = 576 bytes > 0.0001 MiB (104 bytes): top-k.
  std::string exp = vlb::test::run_tiny(
      dir, "pcls", kClsSpec,
      "--set runtime.predictions_max_mb=0.0001 --set runtime.predictions_topk=3");
  vlb::test::write_text(dir / "check.py", kCheckScript);
  for (const auto& run : vlb::test::run_paths(exp)) {
    auto r = vlb::test::run_command(py + " " + (dir / "check.py") + " " + run);
    EXPECT_EQ(r.exit_code, 0) << run << "\n" << r.output;
    EXPECT_NE(r.output.find("topk"), std::string::npos) << r.output;
    for (const auto& e : fs::directory_iterator(run))  // no temporary left next to it
      EXPECT_EQ(e.path().filename().string().rfind("predictions.h5.", 0), std::string::npos) << e.path();
  }
  // A cap above the size keeps the full scores.
  TempDir dir2;
  std::string exp2 = vlb::test::run_tiny(dir2, "pcls", kClsSpec, "--set runtime.predictions_max_mb=0.001");
  for (const auto& run : vlb::test::run_paths(exp2))
    EXPECT_EQ(vlb::test::read_json_file(run + "/metrics.json")["predictions"]["mode"], "full");
}

const char* kOrderScript = R"PY(
import sys, h5py, numpy as np
s = h5py.File(sys.argv[1] + '/predictions.h5', 'r')['/scores'][()]
t = h5py.File(sys.argv[2] + '/predictions.h5', 'r')
ids, vals = t['/topk/ids'][()], t['/topk/scores'][()]
assert t.attrs['mode'] == 'topk'
k = int(t.attrs['topk'])
want = np.argsort(-s, axis=1, kind='stable')[:, :k]
assert (ids == want).all(), (ids[:3], want[:3])
assert t['/topk/scores'].dtype == np.float16
assert (vals == np.take_along_axis(s, want, 1).astype(np.float16)).all()
ties = sum(int((s[i] == s[i, want[i, 1]]).sum() > 1) for i in range(len(s)))
print('tied rows', ties)
)PY";

// Runs `spec` with full and with top-k predictions and checks every top-k file against the full
// scores; returns the number of rows whose second-best score is tied.
int check_topk_order(const std::string& name, const std::string& spec, const std::string& py) {
  TempDir full, topk;
  std::string a = vlb::test::run_tiny(full, name, spec, "--set runtime.predictions=full");
  std::string b = vlb::test::run_tiny(topk, name, spec,
                                      "--set runtime.predictions=topk --set runtime.predictions_topk=4");
  auto ra = vlb::test::run_paths(a), rb = vlb::test::run_paths(b);
  EXPECT_EQ(ra.size(), rb.size());
  EXPECT_FALSE(ra.empty());
  vlb::test::write_text(full / "order.py", kOrderScript);
  int ties = 0;
  for (size_t i = 0; i < ra.size() && i < rb.size(); ++i) {
    EXPECT_EQ(fs::path(ra[i]).filename(), fs::path(rb[i]).filename());  // same run keys
    auto r = vlb::test::run_command(py + " " + (full / "order.py") + " " + ra[i] + " " + rb[i]);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    auto at = r.output.find("tied rows ");
    if (at != std::string::npos) ties += std::stoi(r.output.substr(at + 10));
  }
  return ties;
}

// Top-k ids are exactly a stable descending sort of the full scores (ties: lower id first), on
// methods whose scores are 0/1 name matches (tied in every row) and on distinct cosine scores.
TEST(PredictionsFile, TopkOrderIsAStableDescendingSort) {
  std::string py = python_or_skip();
  if (py.empty()) GTEST_SKIP() << "/usr/bin/python3 with numpy + h5py not found: h5py check skipped";
  const std::string tied =
      "experiment: ptie\n"
      "dataset:\n"
      "  source: synth_noisy\n"
      "  params: {classes: 8, families: 2, dim: 16, train_per_class: 4, test_per_class: 3, seed: 0}\n"
      "methods: [{name: mllm_labels}]\n"
      "metrics: [nmi]\n"
      "runtime: {threads: 1, seeds: [0]}\n";
  EXPECT_GT(check_topk_order("ptie", tied, py), 0);
  EXPECT_EQ(check_topk_order("pcls", kClsSpec, py), 0);
}

TEST(PredictionsFile, NoneWritesNothing) {
  TempDir dir;
  std::string exp = vlb::test::run_tiny(dir, "pcls", kClsSpec, "--set runtime.predictions=none");
  for (const auto& run : vlb::test::run_paths(exp)) {
    EXPECT_FALSE(vlb::test::exists(run + "/predictions.h5")) << run;
    auto m = vlb::test::read_json_file(run + "/metrics.json");
    EXPECT_EQ(m["status"], "ok");
    EXPECT_FALSE(m.contains("predictions")) << m.dump();
    EXPECT_EQ(vlb::test::read_text(run + "/config.resolved.yaml").find("predictions: none") ==
                  std::string::npos,
              false);
  }
}

}  // namespace
