#include "tools/simulator.h"

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace vigie::tools {
namespace {

std::vector<v1::Event> Drain(Simulator& simulator) {
  std::vector<v1::Event> events;
  EventRecord record;
  while (simulator.Next(&record)) {
    EXPECT_FALSE(record.error.has_value());
    EXPECT_EQ(record.events.size(), 1u);
    EXPECT_EQ(record.line, static_cast<int64_t>(events.size()) + 1);
    events.push_back(record.events[0]);
  }
  return events;
}

std::vector<v1::Event> Simulate(const SimulatorOptions& options) {
  auto simulator = Simulator::Create(options);
  EXPECT_TRUE(simulator.ok()) << simulator.status();
  return Drain(**simulator);
}

TEST(SimulatorTest, IsDeterministicForASeed) {
  SimulatorOptions options;
  options.num_predictions = 500;
  options.seed = 7;
  const std::vector<v1::Event> a = Simulate(options);
  const std::vector<v1::Event> b = Simulate(options);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    // Not SerializeAsString(): map order in the wire format is unspecified.
    ASSERT_TRUE(google::protobuf::util::MessageDifferencer::Equals(a[i], b[i]))
        << i << ": " << a[i].DebugString() << " vs " << b[i].DebugString();
  }
  options.seed = 8;
  const std::vector<v1::Event> c = Simulate(options);
  // Another seed: other scores (clamped ones at 0 or 1 may coincide).
  int same_scores = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].has_prediction()) continue;
    const double score = a[i].prediction().binary().score();
    if (score > 0 && score < 1 && score == c[i].prediction().binary().score()) {
      ++same_scores;
    }
  }
  EXPECT_EQ(same_scores, 0);
}

TEST(SimulatorTest, SendsEachOutcomeLagPredictionsAfterItsPrediction) {
  SimulatorOptions options;
  options.num_predictions = 3'000;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Simulator> simulator,
                       Simulator::Create(options));
  EXPECT_EQ(simulator->total_records(), 6'000u);
  const std::vector<v1::Event> events = Drain(*simulator);
  EXPECT_EQ(simulator->records_read(), 6'000u);
  ASSERT_EQ(events.size(), 6'000u);

  const int64_t start = absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilDay(2026, 1, 5), absl::UTCTimeZone()));
  std::map<std::string, int64_t> prediction_number;  // id -> 0-based number.
  int64_t predictions = 0;
  int64_t outcomes = 0;
  for (const v1::Event& e : events) {
    if (e.has_prediction()) {
      const v1::Prediction& p = e.prediction();
      EXPECT_EQ(p.model_id(), "demo");
      EXPECT_EQ(p.model_version(), "v1");
      EXPECT_EQ(p.event_time().seconds(), start + 5 * predictions);
      EXPECT_FALSE(p.binary().has_decision());
      EXPECT_GE(p.binary().score(), 0.0);
      EXPECT_LE(p.binary().score(), 1.0);
      const std::string& sex = p.groups().at("sex");
      EXPECT_TRUE(sex == "female" || sex == "male") << sex;
      const std::string& age = p.groups().at("age_band");
      EXPECT_TRUE(age == "18-25" || age == "26-45" || age == "46+") << age;
      EXPECT_TRUE(
          prediction_number.emplace(p.prediction_id(), predictions).second);
      ++predictions;
    } else {
      const v1::Outcome& o = e.outcome();
      ASSERT_TRUE(prediction_number.contains(o.prediction_id()));
      const int64_t j = prediction_number[o.prediction_id()];
      EXPECT_EQ(o.event_time().seconds(), start + 5 * j + 3600);
      // Outcome j follows prediction j + 1000, or the last prediction.
      EXPECT_EQ(j, outcomes);
      EXPECT_EQ(predictions, std::min<int64_t>(j + 1'001, 3'000));
      ++outcomes;
    }
  }
  EXPECT_EQ(predictions, 3'000);
  EXPECT_EQ(outcomes, 3'000);
}

TEST(SimulatorTest, ExpectedRatesFollowFromTheUniformNoise) {
  // Derived by hand: selected iff noise >= threshold - 0.5 - 0.25 * (+-1) +
  // bias, noise ~ U[-0.35, 0.35].
  const ExpectedRates r = ComputeExpectedRates(SimulatorOptions{});
  EXPECT_NEAR(r.tpr_female, 0.45 / 0.7, 1e-12);
  EXPECT_NEAR(r.tpr_male, 0.60 / 0.7, 1e-12);
  EXPECT_NEAR(r.fpr_female, 0.0, 1e-12);
  EXPECT_NEAR(r.fpr_male, 0.10 / 0.7, 1e-12);
  SimulatorOptions fair;
  fair.bias = 0;
  const ExpectedRates f = ComputeExpectedRates(fair);
  EXPECT_DOUBLE_EQ(f.tpr_female, f.tpr_male);
  EXPECT_DOUBLE_EQ(f.fpr_female, f.fpr_male);
}

TEST(SimulatorTest, EmpiricalRatesMatchTheExpectedOnes) {
  const SimulatorOptions options;  // 20,000 predictions, bias 0.15, seed 1.
  const std::vector<v1::Event> events = Simulate(options);
  std::map<std::string, std::pair<bool, bool>>
      by_id;  // id -> (female, selected)
  struct Counts {
    int64_t n = 0;
    int64_t selected = 0;
  };
  std::map<std::pair<bool, bool>, Counts> counts;  // (female, label)
  int64_t labels = 0;
  for (const v1::Event& e : events) {
    if (e.has_prediction()) {
      const v1::Prediction& p = e.prediction();
      by_id[p.prediction_id()] = {p.groups().at("sex") == "female",
                                  p.binary().score() >= 0.5};
    } else {
      const auto [female, selected] = by_id.at(e.outcome().prediction_id());
      Counts& c = counts[{female, e.outcome().binary()}];
      ++c.n;
      c.selected += selected ? 1 : 0;
      labels += e.outcome().binary() ? 1 : 0;
    }
  }
  // Binomial standard errors of the label rate and of each rate.
  const double n = static_cast<double>(options.num_predictions);
  EXPECT_NEAR(static_cast<double>(labels) / n, 0.3,
              4 * std::sqrt(0.3 * 0.7 / n));
  const ExpectedRates expected = ComputeExpectedRates(options);
  auto check = [&](bool female, bool label, double p) {
    const Counts& c = counts[{female, label}];
    ASSERT_GT(c.n, 1'000);
    const double se = std::sqrt(p * (1 - p) / static_cast<double>(c.n));
    EXPECT_NEAR(static_cast<double>(c.selected) / static_cast<double>(c.n), p,
                std::max(4 * se, 1e-12))
        << "female=" << female << " label=" << label << " n=" << c.n;
  };
  check(/*female=*/true, /*label=*/true, expected.tpr_female);
  check(/*female=*/false, /*label=*/true, expected.tpr_male);
  check(/*female=*/true, /*label=*/false, expected.fpr_female);
  check(/*female=*/false, /*label=*/false, expected.fpr_male);
  // With bias 0.15, no female negative can reach 0.5: 0.25 + 0.35 - 0.15.
  EXPECT_EQ((counts[{true, false}].selected), 0);
}

TEST(SimulatorTest, RejectsBadOptions) {
  SimulatorOptions negative;
  negative.num_predictions = -1;
  EXPECT_FALSE(Simulator::Create(negative).ok());
  SimulatorOptions bias;
  bias.bias = 2;
  EXPECT_FALSE(Simulator::Create(bias).ok());
  SimulatorOptions empty;
  empty.num_predictions = 0;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Simulator> simulator,
                       Simulator::Create(empty));
  EventRecord record;
  EXPECT_FALSE(simulator->Next(&record));
}

}  // namespace
}  // namespace vigie::tools
