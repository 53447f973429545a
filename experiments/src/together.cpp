// Runs fitted together (runner_detail.h, Note [Trained together] in vlb/methods/method.h).
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <algorithm>

#include "runner_detail.h"
#include "vlb/datasets/fewshot.h"

namespace vlb::runner_detail {

struct TrainedTogether::Group {
  std::vector<const PlannedRun*> runs;
  bool fitted = false;
  std::map<std::string, Fitted> done;  // run key -> its fitted method, until taken
};

TrainedTogether::TrainedTogether(const Plan& plan, const std::vector<const PlannedRun*>& runs,
                                 const Registries& reg)
    : plan_(plan), reg_(reg) {
  const size_t cap = static_cast<size_t>(std::max(4, 4 * plan.threads.threads));
  std::map<std::string, Group*> filling;
  for (const PlannedRun* r : runs) {
    const RunConfig& c = r->config;
    // On a GPU one run's kernels already queue up on the device: grouping is for CPU runs.
    if (!c.train_together || !r->dataset || c.device != "cpu") continue;
    if (!has_tag(reg.methods.get(c.method).tags, "together")) continue;
    const std::string key = c.method + "\n" + r->dataset->fingerprint + "\n" + c.train_split;
    Group*& g = filling[key];
    if (!g || g->runs.size() >= cap) {
      groups_.push_back(std::make_unique<Group>());
      g = groups_.back().get();
    }
    g->runs.push_back(r);
    group_of_[r->key] = g;
  }
  for (const auto& g : groups_)  // a group of one is a run like any other
    if (g->runs.size() == 1) group_of_.erase(g->runs[0]->key);
}

TrainedTogether::~TrainedTogether() = default;

void TrainedTogether::fit(Group& g) {
  g.fitted = true;
  struct Slot {
    std::unique_ptr<Method> method;
    DataView train;
    RunContext ctx;
    std::string log;
  };
  std::vector<Slot> slots(g.runs.size());  // sized once: members point into it
  std::vector<Method::Member> members;
  const auto t0 = Clock::now();
  for (size_t i = 0; i < g.runs.size(); ++i) {
    const RunConfig& c = g.runs[i]->config;
    Slot& s = slots[i];
    try {  // what fails here fails again when the run is executed alone, and is recorded there
      s.train = sample_shots(make_view(*g.runs[i]->dataset, c.train_split), c.shots, c.seed);
      s.method = reg_.methods.create(c.method, c.method_params);
    } catch (const std::exception&) {
      continue;
    }
    s.ctx.seed = c.seed;
    s.ctx.threads = plan_.threads.threads;
    s.ctx.device = c.device;
    s.ctx.generator = at::make_generator<at::CPUGeneratorImpl>(c.seed);
    std::string* log = &s.log;
    s.ctx.log = [log, t0](const std::string& line) { *log += log_line(t0, line); };
    members.push_back({s.method.get(), &s.train, &s.ctx, {}});
  }
  if (members.size() < 2) return;  // nothing to share: the runs fit alone
  at::set_num_threads(plan_.threads.threads);
  members[0].method->fit_together(members);
  const double seconds = seconds_since(t0);
  for (size_t i = 0, m = 0; i < slots.size(); ++i) {
    if (!slots[i].method) continue;  // members follow the slots that have a method, in order
    if (members[m++].error.empty())
      g.done[g.runs[i]->key] = Fitted{std::move(slots[i].method), std::move(slots[i].log),
                                      static_cast<int>(members.size()), seconds};
  }
}

std::optional<TrainedTogether::Fitted> TrainedTogether::take(const PlannedRun& r) {
  auto it = group_of_.find(r.key);
  if (it == group_of_.end()) return std::nullopt;
  Group& g = *it->second;
  if (!g.fitted) fit(g);
  auto d = g.done.find(r.key);
  if (d == g.done.end()) return std::nullopt;
  Fitted f = std::move(d->second);
  g.done.erase(d);
  return f;
}

}  // namespace vlb::runner_detail
