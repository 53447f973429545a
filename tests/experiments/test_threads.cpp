// Choosing a sweep's thread count (threads.h): the pure resolution for given machines, and what a
// sweep prints, records in env.json and passes to its workers.
#include <ATen/core/Tensor.h>
#include <fmt/format.h>
#include <ATen/Context.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"
#include "vlb/core/sha256.h"
#include "vlb/experiments/predictions.h"
#include "vlb/experiments/runner.h"
#include "vlb/experiments/threads.h"

namespace vlb::test {
void add_fakes(Registries& r);  // fakes.cpp
}

namespace {

using vlb::kThreadsAuto;
using vlb::ThreadsInputs;

struct Case {
  int spec, override_threads, jobs;
  unsigned cores;
  const char* omp;
  int threads;
  const char* policy;
};

// Data-driven: (runtime.threads, --threads, jobs, cores, OMP_NUM_THREADS) -> threads, policy.
const Case kCases[] = {
    {kThreadsAuto, 0, 1, 2, "", 2, "auto: 2 cores / 1 job"},
    {kThreadsAuto, 0, 2, 2, "", 1, "auto: 2 cores / 2 jobs"},
    {kThreadsAuto, 0, 3, 16, "", 5, "auto: 16 cores / 3 jobs"},      // floor
    {kThreadsAuto, 0, 4, 2, "", 1, "auto: 2 cores / 4 jobs"},        // never below 1
    {kThreadsAuto, 0, 1, 1, "", 1, "auto: 1 core / 1 job"},
    {kThreadsAuto, 0, 0, 8, "", 8, "auto: 8 cores / 1 job"},         // jobs < 1 counts as 1
    {kThreadsAuto, 0, 1, 16, "1", 1, "auto: OMP_NUM_THREADS=1 (16 cores / 1 job)"},
    {kThreadsAuto, 0, 2, 16, "3", 3, "auto: OMP_NUM_THREADS=3 (16 cores / 2 jobs)"},
    {kThreadsAuto, 0, 4, 16, "8", 4, "auto: 16 cores / 4 jobs"},     // a cap above the share
    {kThreadsAuto, 0, 1, 16, " 2,1", 2, "auto: OMP_NUM_THREADS=2 (16 cores / 1 job)"},  // nested list
    {kThreadsAuto, 0, 1, 16, "0", 16, "auto: 16 cores / 1 job"},     // not positive: ignored
    {kThreadsAuto, 0, 1, 16, "x", 16, "auto: 16 cores / 1 job"},
    {kThreadsAuto, 0, 1, 16, "2x", 16, "auto: 16 cores / 1 job"},
    {kThreadsAuto, 0, 2, 0, "", 1, "auto: cores unknown"},
    {kThreadsAuto, 0, 2, 0, "6", 6, "auto: OMP_NUM_THREADS=6 (cores unknown)"},
    {3, 0, 4, 2, "1", 3, "runtime.threads: 3"},                      // explicit: honoured
    {3, 5, 4, 2, "1", 5, "--threads 5"},                             // --threads wins
    {kThreadsAuto, 2, 8, 1, "", 2, "--threads 2"},
};

TEST(ResolveThreads, ForGivenMachinesJobsAndEnvironments) {
  for (const auto& c : kCases) {
    ThreadsInputs in;
    in.spec_threads = c.spec;
    in.override_threads = c.override_threads;
    in.jobs = c.jobs;
    in.cores = c.cores;
    in.omp_num_threads = c.omp;
    auto got = vlb::resolve_threads(in);
    std::string what = ::testing::PrintToString(std::vector<long>{c.spec, c.override_threads, c.jobs,
                                                                  static_cast<long>(c.cores)}) +
                       " OMP_NUM_THREADS='" + c.omp + "'";
    EXPECT_EQ(got.threads, c.threads) << what;
    EXPECT_EQ(got.policy, c.policy) << what;
    EXPECT_EQ(got.automatic, c.spec == kThreadsAuto && c.override_threads == 0) << what;
    EXPECT_EQ(got.jobs, std::max(1, c.jobs)) << what;
    // auto never asks for more than the cores divided by the jobs (when they are known).
    if (got.automatic && c.cores > 0) {
      EXPECT_LE(got.threads, std::max(1, static_cast<int>(c.cores) / std::max(1, c.jobs))) << what;
    }
  }
}

TEST(ResolveThreads, SlurmAutoIsOnePerTaskAndAnExplicitCountIsKept) {
  auto a = vlb::choose_slurm_threads(kThreadsAuto, 0);
  EXPECT_EQ(a.threads, 1);
  EXPECT_EQ(a.policy, "auto: 1 per Slurm array task");
  auto b = vlb::choose_slurm_threads(4, 0);
  EXPECT_EQ(b.threads, 4);
  EXPECT_EQ(b.policy, "runtime.threads: 4");
  EXPECT_EQ(vlb::choose_slurm_threads(4, 2).threads, 2);
}

TEST(ResolveThreads, UsableCoresAndTheLine) {
  EXPECT_GE(vlb::usable_cores(), 1u);  // sched_getaffinity works on Linux
  ThreadsInputs in;
  in.jobs = 2;
  in.cores = 2;
  EXPECT_EQ(vlb::threads_line(90, vlb::resolve_threads(in)),
            "vlb run: 90 runs to do, --jobs 2 x 1 thread per run (auto: 2 cores / 2 jobs)\n");
  in.override_threads = 4;
  in.jobs = 1;
  EXPECT_EQ(vlb::threads_line(1, vlb::resolve_threads(in)),
            "vlb run: 1 run to do, --jobs 1 x 4 threads per run (--threads 4)\n");
}

// ---- through the CLI ----------------------------------------------------------------------

namespace fs = std::filesystem;
using json = nlohmann::json;
using vlb::test::read_text;
using vlb::test::run_cli;
using vlb::test::run_dir_names;
using vlb::test::TempDir;

using vlb::test::contains;

json read_json(const std::string& path) { return json::parse(read_text(path)); }

// A digest of every tensor and name stored in predictions.h5 (the file's bytes differ between
// any two writes: HDF5 keeps object times).
std::string predictions_digest(const std::string& path) {
  if (!fs::exists(path)) return "none";
  vlb::StoredPredictions p = vlb::read_predictions(path);
  vlb::Sha256 h;
  auto add = [&](const std::string& name, const at::Tensor& t) {
    h.update(name + (t.defined() ? t.toString() + ::testing::PrintToString(t.sizes().vec()) : "-"));
    if (!t.defined()) return;
    at::Tensor c = t.contiguous();
    h.update(c.data_ptr(), c.nbytes());
  };
  add("rows", p.rows);
  add("label", p.label);
  add("labels", p.labels);
  add("scores", p.scores);
  add("topk_ids", p.topk_ids);
  add("topk_scores", p.topk_scores);
  for (const auto& [name, t] : p.aux) add("aux:" + name, t);  // std::map: sorted
  for (const auto& n : p.pred_names) h.update(n + "\n");
  return p.mode + " " + h.hex_digest();
}

// run dir -> metrics.json "metrics" and the stored predictions: every number a run produced.
std::map<std::string, std::string> results_of(const std::string& exp) {
  std::map<std::string, std::string> out;
  for (const auto& run : run_dir_names(exp)) {
    json m = read_json(exp + "/" + run + "/metrics.json");
    out[run] = m["status"].dump() + " " + m["metrics"].dump() + " " +
               predictions_digest(exp + "/" + run + "/predictions.h5");
  }
  return out;
}

// Note [Threads change no result]: the run key leaves threads out (Note [Run key contents]) on
// the strength of this test: the same plans at 1 and 3 threads (and in 2 workers) give the same
// run directories with bit-identical metrics and predictions, for specs that exercise the
// methods' parallel kernels (GEMMs, reductions, neighbour searches, iterative training).
class ThreadsE2E : public ::testing::TestWithParam<const char*> {};

TEST_P(ThreadsE2E, SameRunsAndBitIdenticalResultsAtAnyThreadCount) {
  const std::string spec = std::string("experiments/specs/") + GetParam() + ".yaml";
  TempDir one, three;
  auto a = run_cli("run " + spec + " --no-progress --set runtime.seeds=[1] --threads 1 --results " +
                   one.path());
  ASSERT_EQ(a.exit_code, 0) << a.output;
  auto b = run_cli("run " + spec + " --no-progress --set runtime.seeds=[1] --threads 3 --results " +
                   three.path());
  ASSERT_EQ(b.exit_code, 0) << b.output;
  const std::string name = GetParam();
  auto ra = results_of(one / name), rb = results_of(three / name);
  ASSERT_FALSE(ra.empty());
  EXPECT_EQ(ra, rb);
  for (const auto& [run, _] : rb)
    EXPECT_EQ(read_json(three / (name + "/" + run + "/env.json"))["threads"], 3) << run;
  // Done at 1 thread is done at 3: nothing is redone.
  auto again = run_cli("run " + spec + " --no-progress --set runtime.seeds=[1] --threads 3 --results " +
                       one.path());
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_TRUE(contains(again.output, fmt::format("0 ran, {} already done", ra.size()))) << again.output;
}

INSTANTIATE_TEST_SUITE_P(Specs, ThreadsE2E,
                         ::testing::Values("quickstart", "near_synth", "coder_synth", "sarl_synth",
                                           "icis_synth", "composition_synth"));

// Note [Trained together]: runs fitted side by side in one group (two seeds each, at 2 threads)
// give exactly the results the same runs give fitted one at a time, and env.json says which.
class TogetherE2E : public ::testing::TestWithParam<const char*> {};

TEST_P(TogetherE2E, RunsFittedTogetherGiveTheResultsOfRunsFittedAlone) {
  const std::string spec = std::string("experiments/specs/") + GetParam() + ".yaml";
  const std::string name = GetParam();
  TempDir alone, together;
  auto a = run_cli("run " + spec + " --no-progress --set runtime.seeds=[0,1] --threads 1 "
                   "--set runtime.train_together=false --results " + alone.path());
  ASSERT_EQ(a.exit_code, 0) << a.output;
  auto b = run_cli("run " + spec + " --no-progress --set runtime.seeds=[0,1] --threads 2 --results " +
                   together.path());
  ASSERT_EQ(b.exit_code, 0) << b.output;
  auto ra = results_of(alone / name), rb = results_of(together / name);
  ASSERT_FALSE(ra.empty());
  EXPECT_EQ(ra, rb);
  int grouped = 0;
  for (const auto& [run, _] : rb) {
    json t = read_json(together / (name + "/" + run + "/env.json"))["trained_together"];
    EXPECT_TRUE(read_json(alone / (name + "/" + run + "/env.json"))["trained_together"].is_null());
    if (t.is_null()) continue;
    ++grouped;
    EXPECT_GE(t["members"].get<int>(), 2) << run;
    EXPECT_TRUE(contains(read_text(together / (name + "/" + run + "/log.txt")), "trained together"));
  }
  EXPECT_GE(grouped, 2);
}

INSTANTIATE_TEST_SUITE_P(Specs, TogetherE2E,
                         ::testing::Values("quickstart", "icis_synth"));

std::string tiny_spec(const std::string& runtime) {
  return "experiment: tiny\n"
         "dataset: {source: synth, params: {classes: 5, dim: 16, train_per_class: 8, test_per_class: 6}}\n"
         "methods: [{name: zeroshot}, {name: ncm}]\n"
         "metrics: [top1]\n"
         "runtime: " + runtime + "\n";
}

TEST(ThreadsCli, AutoPrintsItsChoiceAndEnvJsonRecordsIt) {
  TempDir t;
  vlb::test::write_text(t / "spec.yaml", tiny_spec("{seeds: [0, 1]}"));  // threads: auto
  const unsigned cores = vlb::usable_cores();
  // Under ctest OMP_NUM_THREADS=1 caps auto; without it auto takes the cores.
  auto r = vlb::test::run_command("env -u OMP_NUM_THREADS '" VLB_CLI "' run " + t / "spec.yaml" +
                                  " --no-progress --results " + t.path() + " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string policy = fmt::format("auto: {} core{} / 1 job", cores, cores == 1 ? "" : "s");
  EXPECT_TRUE(contains(r.output, fmt::format("vlb run: 4 runs to do, --jobs 1 x {} thread{} per run ({})\n",
                                             cores, cores == 1 ? "" : "s", policy)))
      << r.output;
  auto runs = run_dir_names(t / "tiny");
  ASSERT_EQ(runs.size(), 4u);
  for (const auto& run : runs) {
    json env = read_json(t / ("tiny/" + run + "/env.json"));
    EXPECT_EQ(env["threads"], static_cast<int>(cores)) << run;
    EXPECT_EQ(env["threads_policy"], policy) << run;
    EXPECT_EQ(env["jobs"], 1) << run;
    EXPECT_FALSE(contains(read_text(t / ("tiny/" + run + "/config.resolved.yaml")), "threads")) << run;
  }
  // Nothing to do: no line.
  auto again = run_cli("run " + t / "spec.yaml" + " --no-progress --results " + t.path());
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_FALSE(contains(again.output, "to do, --jobs")) << again.output;
}

TEST(ThreadsCli, WorkersShareTheCoresAndOmpNumThreadsCaps) {
  TempDir t;
  vlb::test::write_text(t / "spec.yaml", tiny_spec("{threads: auto, seeds: [0, 1]}"));
  auto r = vlb::test::run_command("OMP_NUM_THREADS=1 '" VLB_CLI "' run " + t / "spec.yaml" +
                                  " --no-progress --jobs 2 --results " + t.path() + " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const unsigned cores = vlb::usable_cores();
  const int share = std::max(1, static_cast<int>(cores) / 2);
  const std::string policy =
      share > 1 ? fmt::format("auto: OMP_NUM_THREADS=1 ({} cores / 2 jobs)", cores)
                : fmt::format("auto: {} core{} / 2 jobs", cores, cores == 1 ? "" : "s");
  EXPECT_TRUE(contains(r.output, "vlb run: 4 runs to do, --jobs 2 x 1 thread per run (" + policy + ")"))
      << r.output;
  EXPECT_FALSE(contains(r.output, "note:")) << r.output;  // auto never oversubscribes
  auto runs = run_dir_names(t / "tiny");
  ASSERT_EQ(runs.size(), 4u);
  for (const auto& run : runs) {
    json env = read_json(t / ("tiny/" + run + "/env.json"));  // written by a worker
    EXPECT_EQ(env["threads"], 1) << run;
    EXPECT_EQ(env["threads_policy"], policy) << run;
    EXPECT_EQ(env["jobs"], 2) << run;
  }
}

TEST(ThreadsCli, ExplicitCountsAreHonouredAndNamed) {
  TempDir t;
  vlb::test::write_text(t / "spec.yaml", tiny_spec("{threads: 2, seeds: [0]}"));
  auto r = run_cli("run " + t / "spec.yaml" + " --no-progress --results " + t.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "vlb run: 2 runs to do, --jobs 1 x 2 threads per run (runtime.threads: 2)"))
      << r.output;
  for (const auto& run : run_dir_names(t / "tiny")) {
    json env = read_json(t / ("tiny/" + run + "/env.json"));
    EXPECT_EQ(env["threads"], 2) << run;
    EXPECT_EQ(env["threads_policy"], "runtime.threads: 2") << run;
  }
  auto f = run_cli("run " + t / "spec.yaml" + " --no-progress --force --threads 3 --results " + t.path());
  ASSERT_EQ(f.exit_code, 0) << f.output;
  EXPECT_TRUE(contains(f.output, "x 3 threads per run (--threads 3)")) << f.output;
  for (const auto& run : run_dir_names(t / "tiny"))
    EXPECT_EQ(read_json(t / ("tiny/" + run + "/env.json"))["threads_policy"], "--threads 3") << run;
}

// Note [Passive OpenMP threads]: the CLI makes OpenMP's idle workers sleep unless the user
// chose otherwise, and env.json records which it was.
TEST(ThreadsCli, OpenMpWorkersArePassiveUnlessTheUserChose) {
  TempDir t;
  vlb::test::write_text(t / "spec.yaml", tiny_spec("{threads: 2, seeds: [0]}"));
  for (const auto& [env, want] : {std::pair<std::string, std::string>{"-u OMP_WAIT_POLICY", "PASSIVE"},
                                  {"OMP_WAIT_POLICY=active", "active"}}) {
    auto r = vlb::test::run_command("env " + env + " '" VLB_CLI "' run " + t / "spec.yaml" +
                                    " --no-progress --force --results " + t.path() + " 2>&1");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    for (const auto& run : run_dir_names(t / "tiny"))
      EXPECT_EQ(read_json(t / ("tiny/" + run + "/env.json"))["omp_wait_policy"], want) << env;
  }
}

// Note [Devices]: runtime.device is resolved at plan time. Without a CUDA device (always so in
// CI) `cuda` stops the sweep before any run, naming the key; `auto` runs on the CPU under the
// very keys of a spec without the key.
TEST(DeviceCli, CudaWithoutADeviceFailsAtPlanTimeAndAutoKeepsCpuKeys) {
  if (at::hasCUDA()) GTEST_SKIP() << "a CUDA device is visible: this test is about its absence";
  TempDir t;
  vlb::test::write_text(t / "cuda.yaml", tiny_spec("{device: cuda, seeds: [0]}"));
  auto c = run_cli("run " + t / "cuda.yaml" + " --no-progress --results " + t.path());
  EXPECT_NE(c.exit_code, 0);
  EXPECT_TRUE(contains(c.output, "runtime.device")) << c.output;
  EXPECT_TRUE(contains(c.output, "sees no CUDA device")) << c.output;
  EXPECT_FALSE(fs::exists(t / "tiny"));
  vlb::test::write_text(t / "bad.yaml", tiny_spec("{device: tpu, seeds: [0]}"));
  auto bad = run_cli("run " + t / "bad.yaml" + " --no-progress --results " + t.path());
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_TRUE(contains(bad.output, "'tpu' is not one of cpu, cuda, auto")) << bad.output;

  vlb::test::write_text(t / "auto.yaml", tiny_spec("{device: auto, seeds: [0]}"));
  vlb::test::write_text(t / "none.yaml", tiny_spec("{seeds: [0]}"));
  auto a = run_cli("run " + t / "auto.yaml" + " --no-progress --results " + t / "a");
  ASSERT_EQ(a.exit_code, 0) << a.output;
  auto n = run_cli("run " + t / "none.yaml" + " --no-progress --results " + t / "n");
  ASSERT_EQ(n.exit_code, 0) << n.output;
  auto runs = run_dir_names(t / "a/tiny");
  EXPECT_EQ(runs, run_dir_names(t / "n/tiny"));
  ASSERT_EQ(runs.size(), 2u);
  for (const auto& run : runs) EXPECT_EQ(read_json(t / ("a/tiny/" + run + "/env.json"))["device"], "cpu");
}

// A method without a GPU path is refused on cuda whatever the machine, before any run. Every
// built-in method has one, so the fakes' centroid (no device:cuda tag) stands in.
TEST(DevicePlan, AMethodWithoutAGpuPathIsRefusedBeforeAnyRun) {
  TempDir t;
  vlb::Registries reg;
  vlb::test::add_fakes(reg);
  ASSERT_FALSE(vlb::has_tag(reg.methods.get("centroid").tags, "device:cuda"));
  vlb::test::write_text(t / "spec.yaml",
                        "experiment: nogpu\n"
                        "dataset: {source: fake}\n"
                        "methods: [{name: centroid}]\n"
                        "metrics: [acc]\n"
                        "runtime: {device: cuda, seeds: [0]}\n");
  vlb::RunOptions o;
  o.results_root = t.path();
  o.progress = false;
  try {
    std::ostringstream out;
    vlb::run_experiment(t / "spec.yaml", o, reg, out);
    ADD_FAILURE() << "a cuda run of a method without a GPU path was not refused";
  } catch (const vlb::ConfigError& e) {
    const std::string what = e.what();
    EXPECT_TRUE(contains(what, "runtime.device")) << what;
    EXPECT_TRUE(contains(what, "method 'centroid' has no GPU path")) << what;
  }
  EXPECT_FALSE(fs::exists(t / "nogpu"));
}

}  // namespace
