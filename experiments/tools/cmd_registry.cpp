// `vlb list` and `vlb describe`: printed straight from the registries.
#include <fmt/format.h>

#include <iostream>

#include "commands.h"
#include "vlb/core/error.h"
#include "vlb/datasets/cached_source.h"
#include "vlb/experiments/builtins.h"
#include "vlb/reports/report.h"

namespace vlb::cli {
namespace {

template <class T>
void list_registry(const Registry<T>& reg, std::ostream& out) {
  out << fmt::format("{}s:\n", reg.kind());
  for (const auto* e : reg.entries())
    out << fmt::format("  {:<16} v{:<3} {}\n", e->name, e->version, e->help);
}

std::string param_range(const ParamSpec& s) {
  if (!s.choices.empty()) {
    std::string c;
    for (size_t i = 0; i < s.choices.size(); ++i) c += (i ? "|" : "") + s.choices[i];
    return c;
  }
  if (!s.min && !s.max) return "";
  return fmt::format("[{}, {}]", s.min ? fmt::format("{}", *s.min) : "-inf",
                     s.max ? fmt::format("{}", *s.max) : "inf");
}

template <class T>
void describe_entry(const RegistryEntry<T>& e, const std::string& kind, std::ostream& out) {
  out << fmt::format("{} {} (version {})\n  {}\n", kind, e.name, e.version, e.help);
  if (!e.tags.empty()) out << "  tags: " << fmt::format("{}", fmt::join(e.tags, " ")) << "\n";
  if (e.schema.specs().empty()) {
    out << "  parameters: none\n";
    return;
  }
  out << "  parameters:\n";
  out << fmt::format("    {:<18} {:<7} {:<12} {:<16} {}\n", "name", "type", "default", "range",
                     "help");
  for (const auto& s : e.schema.specs()) {
    std::string def = format_value(s.default_value);
    if (def.empty()) def = "\"\"";
    out << fmt::format("    {:<18} {:<7} {:<12} {:<16} {}\n", s.name, to_string(s.type), def,
                       param_range(s), s.help);
  }
}

}  // namespace

Command add_registry_commands_list(CLI::App& app) {
  auto kind = std::make_shared<std::string>("all");
  auto* sub = app.add_subcommand("list", "List registered methods, metrics, dataset sources, writers");
  sub->add_option("kind", *kind, "methods | metrics | datasets | writers | all")
      ->check(CLI::IsMember({"methods", "metrics", "datasets", "writers", "all"}));
  return {sub, [kind] {
            const Registries& r = builtins();
            const std::string& k = *kind;
            if (k == "all" || k == "methods") list_registry(r.methods, std::cout);
            if (k == "all" || k == "metrics") list_registry(r.metrics, std::cout);
            if (k == "all" || k == "datasets") {
              list_registry(r.datasets, std::cout);
              std::cout << fmt::format("  synthetic (`vlb synth --source NAME`): {}\n",
                                       fmt::join(synthetic_source_names(r.datasets), ", "));
            }
            if (k == "all" || k == "writers") list_registry(builtin_writers(), std::cout);
            return kExitOk;
          }};
}

Command add_registry_commands_describe(CLI::App& app) {
  auto name = std::make_shared<std::string>();
  auto* sub = app.add_subcommand("describe", "Show a component's help, version, tags and parameters");
  sub->add_option("name", *name, "registered name (see `vlb list`)")->required();
  return {sub, [name] {
            const Registries& r = builtins();
            const std::string& n = *name;
            bool found = false;
            auto show = [&](const auto& reg, const char* kind) {
              if (!reg.contains(n)) return;
              describe_entry(reg.get(n), kind, std::cout);
              found = true;
            };
            show(r.methods, "method");
            show(r.metrics, "metric");
            show(r.datasets, "dataset source");
            show(builtin_writers(), "report writer");
            if (found) return kExitOk;
            std::vector<std::string> all;
            for (auto v : {r.methods.names(), r.metrics.names(), r.datasets.names(), builtin_writers().names()})
              all.insert(all.end(), v.begin(), v.end());
            std::string msg = "nothing named '" + n + "' is registered";
            std::string hint = did_you_mean(n, all);
            if (!hint.empty()) msg += "; " + hint;
            throw ConfigError(msg + " (see `vlb list`)");
          }};
}

}  // namespace vlb::cli
