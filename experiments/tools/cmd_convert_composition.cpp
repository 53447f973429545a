// `vlb convert sugarcrepe`: official SugarCrepe JSON + an embedding table -> schema v1.
#include "commands.h"

namespace vlb::cli {
void add_composition_converters(CLI::App* /*convert*/, std::vector<Command>& /*subs*/) {}
}  // namespace vlb::cli
