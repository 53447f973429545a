// `vlb convert near-labels`: real features + simulated noisy MLLM labels (NeaR).
#include "commands.h"

namespace vlb::cli {
void add_near_converters(CLI::App* /*convert*/, std::vector<Command>& /*subs*/) {}
}  // namespace vlb::cli
