// The baselines every leaderboard needs: zeroshot, ncm and linear_probe (one file each here).
#include "vlb/methods/method.h"

namespace vlb {

void register_zeroshot(MethodRegistry& reg);
void register_ncm(MethodRegistry& reg);
void register_linear_probe(MethodRegistry& reg);

void register_baselines(MethodRegistry& reg) {
  register_zeroshot(reg);
  register_ncm(reg);
  register_linear_probe(reg);
}

}  // namespace vlb
