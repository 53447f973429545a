// Exact McNemar: the two-sided binomial test on the discordant pairs of two paired classifiers.
#include "vlb/reports/paired.h"

#include <boost/math/distributions/binomial.hpp>

#include <algorithm>
#include <string>

#include "vlb/core/error.h"

namespace vlb {

double mcnemar_exact_p(int64_t only_a, int64_t only_b) {
  if (only_a < 0 || only_b < 0) throw Error("McNemar: negative counts");
  const int64_t n = only_a + only_b;
  if (n == 0) return 1.0;
  boost::math::binomial_distribution<double> dist(static_cast<double>(n), 0.5);
  // Symmetric at p = 1/2: every outcome at least as unlikely as the observed one lies in the
  // two tails of width min(b, c), so p = 2 * lower tail, capped at 1 (b == c counts the centre
  // twice).
  const double k = static_cast<double>(std::min(only_a, only_b));
  return std::min(1.0, 2.0 * boost::math::cdf(dist, k));
}

McNemarResult mcnemar_exact(const std::vector<bool>& a_correct, const std::vector<bool>& b_correct) {
  if (a_correct.size() != b_correct.size())
    throw Error("McNemar: " + std::to_string(a_correct.size()) + " rows on one side, " +
                std::to_string(b_correct.size()) + " on the other");
  McNemarResult r;
  r.n = static_cast<int64_t>(a_correct.size());
  for (size_t i = 0; i < a_correct.size(); ++i) {
    if (a_correct[i] && b_correct[i]) ++r.both;
    else if (a_correct[i]) ++r.only_a;
    else if (b_correct[i]) ++r.only_b;
    else ++r.neither;
  }
  r.p_value = mcnemar_exact_p(r.only_a, r.only_b);
  return r;
}

}  // namespace vlb
