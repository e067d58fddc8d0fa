#include "monitors/quantile_sketch.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "tests/testutil/hostile_bytes.h"
#include "tests/testutil/status_matchers.h"
#include "vigie/state/v1/sketch.pb.h"

namespace vigie::monitors {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

enum class Shape {
  kNormal,     // N(0, 1).
  kLogNormal,  // exp(N(0, 2)): a heavy right tail.
  kIntegers,   // Uniform on {0, ..., 99}: many ties.
  kAscending,  // 0, 1, 2, ...: sorted input.
  kDescending,
  kSawtooth,  // Runs of 1,000 ascending values, each run shifted.
};

std::vector<double> Sample(Shape shape, uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_int_distribution<int> integers(0, 99);
  std::vector<double> values(n);
  for (size_t i = 0; i < n; ++i) {
    const double index = static_cast<double>(i);
    switch (shape) {
      case Shape::kNormal:
        values[i] = normal(rng);
        break;
      case Shape::kLogNormal:
        values[i] = std::exp(2 * normal(rng));
        break;
      case Shape::kIntegers:
        values[i] = integers(rng);
        break;
      case Shape::kAscending:
        values[i] = index;
        break;
      case Shape::kDescending:
        values[i] = -index;
        break;
      case Shape::kSawtooth:
        values[i] = static_cast<double>(i % 1000) * 1000 +
                    static_cast<double>(i / 1000);
        break;
    }
  }
  return values;
}

// The exact ranks of a sample, from sorting it.
class Truth {
 public:
  explicit Truth(std::vector<double> values) : sorted_(std::move(values)) {
    std::sort(sorted_.begin(), sorted_.end());
  }
  double AtMost(double x) const {
    return static_cast<double>(
        std::upper_bound(sorted_.begin(), sorted_.end(), x) - sorted_.begin());
  }
  double Below(double x) const {
    return static_cast<double>(
        std::lower_bound(sorted_.begin(), sorted_.end(), x) - sorted_.begin());
  }
  double n() const { return static_cast<double>(sorted_.size()); }
  const std::vector<double>& sorted() const { return sorted_; }
  // The sample as distinct values with multiplicities.
  std::vector<std::pair<double, uint64_t>> Grouped() const {
    std::vector<std::pair<double, uint64_t>> out;
    for (double v : sorted_) {
      if (!out.empty() && out.back().first == v) {
        ++out.back().second;
      } else {
        out.push_back({v, 1});
      }
    }
    return out;
  }
  // 2,000 queries fixed before any coin flip: order statistics at a grid of
  // ranks and midpoints between distinct neighbours.
  std::vector<double> Queries() const {
    std::vector<double> queries;
    const size_t n = sorted_.size();
    for (size_t i = 1; i <= 1000; ++i) {
      const size_t at = std::min(n - 1, i * n / 1001);
      queries.push_back(sorted_[at]);
      if (at + 1 < n) queries.push_back((sorted_[at] + sorted_[at + 1]) / 2);
    }
    return queries;
  }

 private:
  std::vector<double> sorted_;
};

// sup over x of |estimated - true rank|, by merging the sketch's retained
// values with the sorted sample: both rank functions only step at those
// values, so checking just after (Rank) and just before (RankBelow) each
// gives the exact sup.
double SupRankError(const QuantileSketch& sketch, const Truth& truth) {
  const std::vector<WeightedValue> retained = sketch.Sorted();
  const std::vector<double>& data = truth.sorted();
  size_t i = 0;
  size_t j = 0;
  double estimated = 0;
  double exact = 0;
  double sup = 0;
  while (i < retained.size() || j < data.size()) {
    const double x = j == data.size() || (i < retained.size() &&
                                          retained[i].value <= data[j])
                         ? retained[i].value
                         : data[j];
    sup = std::max(sup, std::abs(estimated - exact));  // Just below x.
    while (i < retained.size() && retained[i].value <= x) {
      estimated += static_cast<double>(retained[i++].weight);
    }
    while (j < data.size() && data[j] <= x) {
      exact += 1;
      ++j;
    }
    sup = std::max(sup, std::abs(estimated - exact));  // At x.
  }
  return sup;
}

QuantileSketch Make(uint32_t k, uint32_t exact_capacity) {
  absl::StatusOr<QuantileSketch> sketch =
      QuantileSketch::Create(k, exact_capacity);
  EXPECT_OK(sketch);
  return *std::move(sketch);
}

QuantileSketch Sketch(const std::vector<double>& values, uint32_t k = 200,
                      uint32_t exact_capacity = 1024) {
  QuantileSketch sketch = Make(k, exact_capacity);
  for (double v : values) sketch.Add(v);
  return sketch;
}

// The sketch's answers match the sample's exactly.
void ExpectExact(const QuantileSketch& sketch, const Truth& truth) {
  ASSERT_EQ(sketch.count(), truth.sorted().size());
  EXPECT_TRUE(sketch.exact());
  EXPECT_EQ(sketch.NormalizedRankError(), 0);
  EXPECT_EQ(sketch.NormalizedRankErrorAllQuantiles(), 0);
  EXPECT_EQ(sketch.min(), truth.sorted().front());
  EXPECT_EQ(sketch.max(), truth.sorted().back());
  const auto grouped = truth.Grouped();
  const std::vector<WeightedValue> sorted = sketch.Sorted();
  ASSERT_EQ(sorted.size(), grouped.size());
  for (size_t i = 0; i < sorted.size(); ++i) {
    EXPECT_EQ(sorted[i].value, grouped[i].first);
    EXPECT_EQ(sorted[i].weight, grouped[i].second);
  }
  std::vector<double> queries = truth.sorted();
  for (const auto& [v, _] : grouped) {
    queries.push_back(std::nextafter(v, -kInf));
    queries.push_back(std::nextafter(v, kInf));
  }
  for (double x : queries) {
    EXPECT_EQ(sketch.Rank(x), truth.AtMost(x)) << x;
    EXPECT_EQ(sketch.RankBelow(x), truth.Below(x)) << x;
    EXPECT_DOUBLE_EQ(sketch.Cdf(x), truth.AtMost(x) / truth.n()) << x;
  }
  // Quantile by its definition, walking the sorted sample.
  for (int step = 0; step <= 200; ++step) {
    const double q = step / 200.0;
    double expected = truth.sorted().back();
    if (q == 0) {
      expected = truth.sorted().front();
    } else {
      for (double v : truth.sorted()) {
        if (truth.AtMost(v) >= q * truth.n()) {
          expected = v;
          break;
        }
      }
    }
    EXPECT_EQ(sketch.Quantile(q), expected) << q;
  }
}

// Every documented bound holds on this sketch of `values`: the all-x bound
// on the sup error, the one-x bound on at most 1% of fixed queries (the
// bound's confidence), Quantile within the all-x bound, and memory.
void ExpectWithinBounds(const QuantileSketch& sketch, const Truth& truth) {
  ASSERT_EQ(sketch.count(), truth.sorted().size());
  EXPECT_EQ(sketch.min(), truth.sorted().front());
  EXPECT_EQ(sketch.max(), truth.sorted().back());
  const double n = truth.n();
  const double eps = sketch.NormalizedRankError();
  const double eps_all = sketch.NormalizedRankErrorAllQuantiles();
  EXPECT_GE(eps_all, eps);
  EXPECT_LE(SupRankError(sketch, truth), eps_all * n);
  int over = 0;
  const std::vector<double> queries = truth.Queries();
  for (double x : queries) {
    if (std::abs(sketch.Rank(x) - truth.AtMost(x)) > eps * n) ++over;
    if (std::abs(sketch.RankBelow(x) - truth.Below(x)) > eps * n) ++over;
    EXPECT_NEAR(sketch.Cdf(x), truth.AtMost(x) / n, eps_all) << x;
  }
  EXPECT_LE(over, static_cast<int>(2 * queries.size()) / 100);
  for (int step = 0; step <= 100; ++step) {
    const double q = step / 100.0;
    const double v = sketch.Quantile(q);
    EXPECT_LE(truth.Below(v) - eps_all * n, q * n) << q;
    EXPECT_GE(truth.AtMost(v) + eps_all * n, q * n) << q;
  }
  uint64_t total = 0;
  for (const WeightedValue& v : sketch.Sorted()) total += v.weight;
  EXPECT_EQ(total, sketch.count());
  // About 3k + 8 log2(n / k) in the levels, plus the buffer of 256.
  EXPECT_LE(sketch.retained(), 3 * sketch.k() + 8 * 64 + 256);
}

TEST(QuantileSketchTest, CreateChecksParameters) {
  EXPECT_OK(QuantileSketch::Create());
  EXPECT_OK(QuantileSketch::Create(16, 16));
  EXPECT_OK(QuantileSketch::Create(4096, 65536));
  for (const auto& [k, capacity] : std::vector<std::pair<uint32_t, uint32_t>>{
           {15, 1024}, {4097, 65536}, {0, 1024}, {200, 199}, {200, 65537}}) {
    EXPECT_EQ(QuantileSketch::Create(k, capacity).status().code(),
              absl::StatusCode::kInvalidArgument)
        << k << " " << capacity;
  }
  const QuantileSketch sketch;
  EXPECT_EQ(sketch.k(), 200u);
  EXPECT_EQ(sketch.exact_capacity(), 1024u);
}

TEST(QuantileSketchTest, Empty) {
  const QuantileSketch sketch;
  EXPECT_TRUE(sketch.empty());
  EXPECT_EQ(sketch.count(), 0u);
  EXPECT_TRUE(sketch.exact());
  EXPECT_TRUE(std::isnan(sketch.min()));
  EXPECT_TRUE(std::isnan(sketch.max()));
  EXPECT_EQ(sketch.Rank(1), 0);
  EXPECT_EQ(sketch.RankBelow(1), 0);
  EXPECT_EQ(sketch.Cdf(1), 0);
  EXPECT_TRUE(std::isnan(sketch.Quantile(0.5)));
  EXPECT_TRUE(sketch.Sorted().empty());
  EXPECT_EQ(sketch.retained(), 0u);
  EXPECT_EQ(sketch.NormalizedRankError(), 0);
}

TEST(QuantileSketchTest, OneValue) {
  QuantileSketch sketch;
  sketch.Add(2.5);
  EXPECT_EQ(sketch.count(), 1u);
  EXPECT_EQ(sketch.min(), 2.5);
  EXPECT_EQ(sketch.max(), 2.5);
  EXPECT_EQ(sketch.Rank(2.5), 1);
  EXPECT_EQ(sketch.RankBelow(2.5), 0);
  EXPECT_EQ(sketch.Cdf(2), 0);
  EXPECT_EQ(sketch.Cdf(3), 1);
  EXPECT_EQ(sketch.Quantile(0), 2.5);
  EXPECT_EQ(sketch.Quantile(0.5), 2.5);
  EXPECT_EQ(sketch.Quantile(1), 2.5);
}

TEST(QuantileSketchTest, QuantileOfAHandWorkedSample) {
  QuantileSketch sketch;
  for (double v : {3.0, 1.0, 2.0, 2.0, 5.0}) sketch.Add(v);
  // Ranks: 1 -> 1, 2 -> 3, 3 -> 4, 5 -> 5 of 5.
  EXPECT_EQ(sketch.Quantile(0.2), 1);
  EXPECT_EQ(sketch.Quantile(0.21), 2);
  EXPECT_EQ(sketch.Quantile(0.6), 2);
  EXPECT_EQ(sketch.Quantile(0.61), 3);
  EXPECT_EQ(sketch.Quantile(0.81), 5);
  EXPECT_EQ(sketch.Rank(2), 3);
  EXPECT_EQ(sketch.RankBelow(2), 1);
  EXPECT_DOUBLE_EQ(sketch.Cdf(4), 0.8);
  const std::vector<WeightedValue> sorted = sketch.Sorted();
  ASSERT_EQ(sorted.size(), 4u);
  EXPECT_EQ(sorted[1].value, 2);
  EXPECT_EQ(sorted[1].weight, 2u);
}

TEST(QuantileSketchTest, QuantileOutsideZeroOneIsNan) {
  QuantileSketch sketch;
  sketch.Add(1);
  EXPECT_TRUE(std::isnan(sketch.Quantile(-0.1)));
  EXPECT_TRUE(std::isnan(sketch.Quantile(1.1)));
  EXPECT_TRUE(std::isnan(sketch.Quantile(kNaN)));
  EXPECT_TRUE(std::isnan(sketch.Rank(kNaN)));
  EXPECT_TRUE(std::isnan(sketch.Cdf(kNaN)));
}

TEST(QuantileSketchTest, NanAndInfinitiesAreIgnoredAndCounted) {
  const std::vector<double> values = Sample(Shape::kNormal, 3, 5000);
  QuantileSketch clean;
  QuantileSketch noisy;
  for (size_t i = 0; i < values.size(); ++i) {
    clean.Add(values[i]);
    noisy.Add(values[i]);
    if (i % 7 == 0) noisy.Add(kNaN);
    if (i % 11 == 0) noisy.Add(kInf);
    if (i % 13 == 0) noisy.Add(-kInf);
  }
  EXPECT_EQ(noisy.count(), values.size());
  EXPECT_EQ(noisy.ignored(),
            (5000 + 6) / 7 + (5000 + 10) / 11 + (5000 + 12) / 13);
  EXPECT_EQ(clean.ignored(), 0u);
  // Ignored values change nothing else, coin flips included.
  state::v1::QuantileSketchState noisy_state;
  noisy.ToProto(&noisy_state);
  noisy_state.set_ignored(0);
  EXPECT_EQ(noisy_state.SerializeAsString(), clean.Serialize());
}

TEST(QuantileSketchTest, ExactUpToExactCapacity) {
  for (const auto& [k, capacity] : std::vector<std::pair<uint32_t, uint32_t>>{
           {200, 1024}, {16, 16}, {64, 3000}, {200, 200}}) {
    SCOPED_TRACE(testing::Message() << "k " << k << " capacity " << capacity);
    // Rounded normals: distinct values and ties.
    std::vector<double> values = Sample(Shape::kNormal, k + capacity, capacity);
    for (size_t i = 0; i < values.size(); i += 3) {
      values[i] = std::round(values[i] * 4) / 4;
    }
    QuantileSketch sketch = Make(k, capacity);
    std::vector<double> prefix;
    for (double v : values) {
      sketch.Add(v);
      prefix.push_back(v);
      const size_t size = prefix.size();
      if (size == 1 || size == 2 || size == 17 || size == capacity / 2 ||
          size == capacity) {
        SCOPED_TRACE(size);
        ExpectExact(sketch, Truth(prefix));
      }
    }
    EXPECT_EQ(sketch.retained(), capacity);
    // One more starts the compacted phase: extremes stay exact, weights
    // still sum to the count.
    sketch.Add(100);
    prefix.push_back(100);
    EXPECT_EQ(sketch.count(), capacity + 1u);
    ExpectWithinBounds(sketch, Truth(prefix));
  }
}

TEST(QuantileSketchTest, ErrorBoundHoldsOnAMillionValues) {
  for (Shape shape :
       {Shape::kNormal, Shape::kLogNormal, Shape::kIntegers, Shape::kAscending,
        Shape::kDescending, Shape::kSawtooth}) {
    SCOPED_TRACE(static_cast<int>(shape));
    const std::vector<double> values = Sample(shape, 100, 1'000'000);
    const QuantileSketch sketch = Sketch(values);
    EXPECT_FALSE(sketch.exact());
    // The figure the header gives for k = 200.
    EXPECT_GT(sketch.NormalizedRankError(), 0.009);
    EXPECT_LT(sketch.NormalizedRankError(), 0.0143);
    EXPECT_LT(sketch.NormalizedRankErrorAllQuantiles(), 0.0233);
    ExpectWithinBounds(sketch, Truth(values));
  }
}

TEST(QuantileSketchTest, ErrorBoundHoldsForOtherK) {
  for (uint32_t k : {16u, 50u, 1000u}) {
    SCOPED_TRACE(k);
    const std::vector<double> values = Sample(Shape::kLogNormal, k, 300'000);
    const QuantileSketch sketch = Sketch(values, k, std::max(k, 1024u));
    // eps is at most 3 / k (the header).
    EXPECT_LT(sketch.NormalizedRankError(), 3.0 / k);
    ExpectWithinBounds(sketch, Truth(values));
  }
}

TEST(QuantileSketchTest, ErrorBoundHoldsAfterSamplingStarts) {
  // With k = 16 sampling starts at 2 k^2 = 512 values and its blocks reach
  // the largest size, 256 values, at 65,536.
  const std::vector<double> values = Sample(Shape::kNormal, 5, 2'000'000);
  const QuantileSketch sketch = Sketch(values, 16, 16);
  ExpectWithinBounds(sketch, Truth(values));
}

TEST(QuantileSketchTest, MergeOfManySketchesKeepsTheBound) {
  // 10^6 values in 100 sketches of unequal sizes, some still exact.
  const std::vector<double> values = Sample(Shape::kLogNormal, 8, 1'000'000);
  std::vector<QuantileSketch> parts;
  size_t start = 0;
  for (int i = 0; start < values.size(); ++i) {
    const size_t size = i % 4 == 0 ? 500 : 3000 + 900 * static_cast<size_t>(i);
    const size_t end = std::min(values.size(), start + size);
    parts.push_back(
        Sketch(std::vector<double>(values.begin() + static_cast<long>(start),
                                   values.begin() + static_cast<long>(end))));
    start = end;
  }
  ASSERT_GT(parts.size(), 20u);
  const Truth truth(values);

  QuantileSketch forward;
  for (const QuantileSketch& part : parts) ASSERT_OK(forward.Merge(part));
  QuantileSketch backward;
  for (size_t i = parts.size(); i-- > 0;) ASSERT_OK(backward.Merge(parts[i]));
  std::vector<QuantileSketch> level = parts;
  while (level.size() > 1) {
    std::vector<QuantileSketch> next;
    for (size_t i = 0; i + 1 < level.size(); i += 2) {
      ASSERT_OK(level[i].Merge(level[i + 1]));
      next.push_back(std::move(level[i]));
    }
    if (level.size() % 2 == 1) next.push_back(std::move(level.back()));
    level = std::move(next);
  }
  const QuantileSketch& tree = level.front();

  for (const QuantileSketch* merged :
       std::vector<const QuantileSketch*>{&forward, &backward, &tree}) {
    ExpectWithinBounds(*merged, truth);
    EXPECT_LT(merged->NormalizedRankError(), 0.02);
  }
  // Orders differ only within their bounds.
  for (double x : truth.Queries()) {
    EXPECT_NEAR(forward.Cdf(x), tree.Cdf(x),
                forward.NormalizedRankErrorAllQuantiles() +
                    tree.NormalizedRankErrorAllQuantiles());
    EXPECT_NEAR(forward.Cdf(x), backward.Cdf(x),
                forward.NormalizedRankErrorAllQuantiles() +
                    backward.NormalizedRankErrorAllQuantiles());
  }
}

TEST(QuantileSketchTest, MergeOfExactSketchesIsExact) {
  const std::vector<double> a = Sample(Shape::kIntegers, 1, 300);
  const std::vector<double> b = Sample(Shape::kNormal, 2, 700);
  QuantileSketch merged = Sketch(a);
  ASSERT_OK(merged.Merge(Sketch(b)));
  std::vector<double> both = a;
  both.insert(both.end(), b.begin(), b.end());
  ExpectExact(merged, Truth(both));
}

TEST(QuantileSketchTest, MergePastExactCapacityCompacts) {
  const std::vector<double> a = Sample(Shape::kNormal, 1, 1000);
  const std::vector<double> b = Sample(Shape::kNormal, 2, 1000);
  QuantileSketch merged = Sketch(a);
  ASSERT_OK(merged.Merge(Sketch(b)));
  std::vector<double> both = a;
  both.insert(both.end(), b.begin(), b.end());
  EXPECT_FALSE(merged.exact());
  ExpectWithinBounds(merged, Truth(both));
  // An exact sketch merged into a compacted one, and the other way.
  const std::vector<double> big = Sample(Shape::kNormal, 3, 200'000);
  QuantileSketch compacted = Sketch(big);
  ASSERT_OK(compacted.Merge(Sketch(a)));
  QuantileSketch exact = Sketch(a);
  ASSERT_OK(exact.Merge(Sketch(big)));
  std::vector<double> all = big;
  all.insert(all.end(), a.begin(), a.end());
  ExpectWithinBounds(compacted, Truth(all));
  ExpectWithinBounds(exact, Truth(all));
}

TEST(QuantileSketchTest, MergeWithEmptyIsIdentity) {
  const QuantileSketch sketch = Sketch(Sample(Shape::kNormal, 4, 50'000));
  QuantileSketch merged = sketch;
  ASSERT_OK(merged.Merge(QuantileSketch()));
  EXPECT_EQ(merged.Serialize(), sketch.Serialize());
  QuantileSketch empty;
  ASSERT_OK(empty.Merge(sketch));
  const std::vector<WeightedValue> a = empty.Sorted();
  const std::vector<WeightedValue> b = sketch.Sorted();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].value, b[i].value);
    EXPECT_EQ(a[i].weight, b[i].weight);
  }
  EXPECT_EQ(empty.NormalizedRankError(), sketch.NormalizedRankError());
}

TEST(QuantileSketchTest, MergeWithItselfDoublesWeights) {
  const std::vector<double> values = Sample(Shape::kIntegers, 5, 400);
  QuantileSketch sketch = Sketch(values);
  ASSERT_OK(sketch.Merge(sketch));
  std::vector<double> twice = values;
  twice.insert(twice.end(), values.begin(), values.end());
  ExpectExact(sketch, Truth(twice));
  QuantileSketch big = Sketch(Sample(Shape::kNormal, 6, 100'000));
  ASSERT_OK(big.Merge(big));
  EXPECT_EQ(big.count(), 200'000u);
}

TEST(QuantileSketchTest, IncompatibleMergeFailsAndChangesNothing) {
  QuantileSketch sketch = Sketch(Sample(Shape::kNormal, 7, 5000));
  const std::string before = sketch.Serialize();
  QuantileSketch other_k = Make(100, 1024);
  other_k.Add(1);
  QuantileSketch other_capacity = Make(200, 2048);
  other_capacity.Add(1);
  EXPECT_EQ(sketch.Merge(other_k).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sketch.Merge(other_capacity).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sketch.Serialize(), before);
}

TEST(QuantileSketchTest, SameInputSameBytes) {
  const std::vector<double> values = Sample(Shape::kLogNormal, 9, 300'000);
  const QuantileSketch a = Sketch(values);
  const QuantileSketch b = Sketch(values);
  EXPECT_EQ(a.Serialize(), b.Serialize());
  // And the same merges in the same order.
  QuantileSketch c = a;
  QuantileSketch d = b;
  ASSERT_OK(c.Merge(Sketch(Sample(Shape::kNormal, 10, 20'000))));
  ASSERT_OK(d.Merge(Sketch(Sample(Shape::kNormal, 10, 20'000))));
  EXPECT_EQ(c.Serialize(), d.Serialize());
}

TEST(QuantileSketchTest, RestoredSketchContinuesAsTheOriginal) {
  // A replay after a crash: restore a saved state, then add the rest.
  const std::vector<double> values = Sample(Shape::kNormal, 11, 400'000);
  for (size_t cut : {0, 700, 1024, 1025, 5000, 123'457}) {
    SCOPED_TRACE(cut);
    QuantileSketch original;
    for (size_t i = 0; i < cut; ++i) original.Add(values[i]);
    ASSERT_OK_AND_ASSIGN(QuantileSketch restored,
                         QuantileSketch::Deserialize(original.Serialize()));
    for (size_t i = cut; i < values.size(); ++i) {
      original.Add(values[i]);
      restored.Add(values[i]);
    }
    EXPECT_EQ(restored.Serialize(), original.Serialize());
  }
}

TEST(QuantileSketchTest, SerializeRoundTrip) {
  std::vector<QuantileSketch> sketches;
  sketches.emplace_back();
  sketches.push_back(Sketch(Sample(Shape::kIntegers, 12, 100)));
  sketches.push_back(Sketch(Sample(Shape::kNormal, 13, 1024)));
  sketches.push_back(Sketch(Sample(Shape::kNormal, 13, 1025)));
  sketches.push_back(Sketch(Sample(Shape::kLogNormal, 14, 1'000'003)));
  QuantileSketch merged = Sketch(Sample(Shape::kLogNormal, 15, 800));
  ASSERT_OK(merged.Merge(sketches.back()));
  sketches.push_back(merged);
  sketches.push_back(Sketch(Sample(Shape::kNormal, 16, 70'000), 16, 16));
  for (const QuantileSketch& sketch : sketches) {
    SCOPED_TRACE(sketch.count());
    const std::string bytes = sketch.Serialize();
    ASSERT_OK_AND_ASSIGN(QuantileSketch restored,
                         QuantileSketch::Deserialize(bytes));
    EXPECT_EQ(restored.Serialize(), bytes);
    EXPECT_EQ(restored.count(), sketch.count());
    EXPECT_EQ(restored.exact(), sketch.exact());
    EXPECT_EQ(restored.NormalizedRankError(), sketch.NormalizedRankError());
    EXPECT_EQ(restored.retained(), sketch.retained());
    if (!sketch.empty()) {
      EXPECT_EQ(restored.min(), sketch.min());
      EXPECT_EQ(restored.max(), sketch.max());
      for (double q : {0.0, 0.1, 0.5, 0.9, 1.0}) {
        EXPECT_EQ(restored.Quantile(q), sketch.Quantile(q));
      }
    }
  }
}

// A deserialized state is either rejected as kDataLoss or usable.
void ExpectDataLossOrValid(const std::string& bytes) {
  absl::StatusOr<QuantileSketch> sketch = QuantileSketch::Deserialize(bytes);
  if (!sketch.ok()) {
    EXPECT_EQ(sketch.status().code(), absl::StatusCode::kDataLoss);
    return;
  }
  uint64_t total = 0;
  for (const WeightedValue& v : sketch->Sorted()) total += v.weight;
  EXPECT_EQ(total, sketch->count());
  EXPECT_LE(sketch->NormalizedRankError(), 1);
  if (!sketch->empty()) {
    EXPECT_LE(sketch->min(), sketch->Quantile(0.5));
    EXPECT_LE(sketch->Quantile(0.5), sketch->max());
  }
  for (int i = 0; i < 3000; ++i) sketch->Add(i);
  QuantileSketch copy = *sketch;
  EXPECT_OK(sketch->Merge(copy));
  EXPECT_OK(QuantileSketch::Deserialize(sketch->Serialize()));
}

TEST(QuantileSketchTest, TruncatedBytesAreDataLoss) {
  for (const QuantileSketch& sketch :
       {QuantileSketch(), Sketch(Sample(Shape::kNormal, 17, 300)),
        Sketch(Sample(Shape::kNormal, 18, 20'000), 16, 16)}) {
    const std::string bytes = sketch.Serialize();
    for (size_t length = 0; length < bytes.size(); ++length) {
      SCOPED_TRACE(length);
      EXPECT_EQ(
          QuantileSketch::Deserialize(bytes.substr(0, length)).status().code(),
          absl::StatusCode::kDataLoss);
    }
  }
}

TEST(QuantileSketchTest, GarbageBytesNeverCrash) {
  int i = 0;
  for (const std::string& bytes :
       testutil::RandomByteStrings(/*seed=*/99, 3000, 128)) {
    SCOPED_TRACE(i++);
    ExpectDataLossOrValid(bytes);
  }
  const QuantileSketch sketch =
      Sketch(Sample(Shape::kIntegers, 19, 2000), 16, 16);
  size_t bit = 0;
  for (const std::string& flipped :
       testutil::EachBitFlipped(sketch.Serialize())) {
    SCOPED_TRACE(bit++);
    ExpectDataLossOrValid(flipped);
  }
}

state::v1::QuantileSketchState StateOf(const QuantileSketch& sketch) {
  state::v1::QuantileSketchState state;
  sketch.ToProto(&state);
  return state;
}

TEST(QuantileSketchTest, EachInconsistentFieldIsDataLoss) {
  // A compacted sketch with unsorted values left, and an exact one.
  const QuantileSketch compacted =
      Sketch(Sample(Shape::kNormal, 20, 10'100), 16, 64);
  const QuantileSketch exact = Sketch(Sample(Shape::kNormal, 21, 50), 16, 64);
  const state::v1::QuantileSketchState good = StateOf(compacted);
  ASSERT_GT(good.unsorted_size(), 0);
  ASSERT_GT(good.levels_size(), 3);
  ASSERT_OK(QuantileSketch::FromProto(good));
  ASSERT_OK(QuantileSketch::FromProto(StateOf(exact)));

  using State = state::v1::QuantileSketchState;
  const std::vector<std::pair<std::string, void (*)(State&)>> corruptions = {
      {"version", [](State& s) { s.set_version(2); }},
      {"k too small", [](State& s) { s.set_k(8); }},
      {"k too large", [](State& s) { s.set_k(5000); }},
      {"exact_capacity below k", [](State& s) { s.set_exact_capacity(15); }},
      {"count + 1", [](State& s) { s.set_count(s.count() + 1); }},
      {"count - 1", [](State& s) { s.set_count(s.count() - 1); }},
      {"count past the limit",
       [](State& s) { s.set_count((uint64_t{1} << 62) + 1); }},
      {"min above a value", [](State& s) { s.set_min(s.max() - 1e-9); }},
      {"max below a value", [](State& s) { s.set_max(s.min() + 1e-9); }},
      {"min NaN", [](State& s) { s.set_min(kNaN); }},
      {"max infinite", [](State& s) { s.set_max(kInf); }},
      {"unsorted NaN", [](State& s) { s.set_unsorted(0, kNaN); }},
      {"unsorted infinite", [](State& s) { s.set_unsorted(0, -kInf); }},
      {"level value NaN",
       [](State& s) {
         s.mutable_levels(s.levels_size() - 1)->set_values(0, kNaN);
       }},
      {"level unsorted",
       [](State& s) {
         auto* v = s.mutable_levels(s.levels_size() - 1)->mutable_values();
         std::swap((*v)[0], (*v)[v->size() - 1]);
       }},
      {"empty top level", [](State& s) { s.add_levels(); }},
      {"levels over capacity",
       [](State& s) {
         // 300 more weight-1 values at the level-0 end, count adjusted.
         for (int i = 0; i < 300; ++i) s.mutable_levels(0)->add_values(s.max());
         s.set_count(s.count() + 300);
       }},
      {"unsorted over its capacity",
       [](State& s) {
         for (int i = 0; i < 300; ++i) s.add_unsorted(s.max());
         s.set_count(s.count() + 300);
       }},
      {"levels for an exact-phase count",
       [](State& s) {
         s.clear_levels();
         s.clear_unsorted();
         s.add_levels()->add_values(s.min());
         s.set_count(1);
       }},
      {"variance negative", [](State& s) { s.set_error_variance(-1); }},
      {"variance NaN", [](State& s) { s.set_error_variance(kNaN); }},
      {"variance infinite", [](State& s) { s.set_error_variance(kInf); }},
      {"variance 0 with weights", [](State& s) { s.set_error_variance(0); }},
  };
  for (const auto& [name, corrupt] : corruptions) {
    SCOPED_TRACE(name);
    State state = good;
    corrupt(state);
    EXPECT_EQ(QuantileSketch::FromProto(state).status().code(),
              absl::StatusCode::kDataLoss);
    EXPECT_EQ(
        QuantileSketch::Deserialize(state.SerializeAsString()).status().code(),
        absl::StatusCode::kDataLoss);
  }

  // The exact phase: no levels, weight-1 values only.
  const std::vector<std::pair<std::string, void (*)(State&)>> exact_cases = {
      {"count past exact_capacity without levels",
       [](State& s) {
         for (int i = 0; i < 64; ++i) s.add_unsorted(s.min());
         s.set_count(s.count() + 64);
       }},
      {"variance without weights", [](State& s) { s.set_error_variance(1); }},
      {"empty with values", [](State& s) { s.set_count(0); }},
      {"empty with a min",
       [](State& s) {
         s.clear_unsorted();
         s.set_count(0);
         s.set_max(0);
       }},
  };
  for (const auto& [name, corrupt] : exact_cases) {
    SCOPED_TRACE(name);
    State state = StateOf(exact);
    corrupt(state);
    EXPECT_EQ(QuantileSketch::FromProto(state).status().code(),
              absl::StatusCode::kDataLoss);
  }
}

TEST(QuantileSketchTest, MemoryStaysBounded) {
  QuantileSketch sketch;
  std::mt19937_64 rng(21);
  std::uniform_real_distribution<double> uniform(0, 1);
  size_t most = 0;
  for (int i = 0; i < 10'000'000; ++i) {
    sketch.Add(uniform(rng));
    if (i % 4096 == 0) most = std::max(most, sketch.retained());
  }
  EXPECT_LE(most, 3 * 200 + 8 * 20 + 256);
  EXPECT_LT(sketch.NormalizedRankError(), 0.0143);
  // Uniform: the true CDF is x, up to sampling noise of about 3e-4.
  for (double x = 0.05; x < 1; x += 0.05) {
    EXPECT_NEAR(sketch.Cdf(x), x,
                sketch.NormalizedRankErrorAllQuantiles() + 2e-3);
  }
}

}  // namespace
}  // namespace vigie::monitors
