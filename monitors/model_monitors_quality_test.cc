// ModelMonitors' conformal and recommendation families: routing of
// regression intervals, multiclass sets and recommendation lists to their
// monitors, per group, through merge and state. Expected values are counted
// in the test from the events it made.

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "monitors/model_monitors.h"
#include "tests/testutil/status_matchers.h"
#include "vigie/v1/catalogue.pb.h"
#include "vigie/v1/events.pb.h"

namespace vigie::monitors {
namespace {

struct Interval {
  double value, lo, hi, y;
  std::string sex;
};

v1::Prediction Regression(const Interval& e, double alpha, uint64_t n_cal) {
  v1::Prediction p;
  v1::RegressionPrediction& r = *p.mutable_regression();
  r.set_value(e.value);
  r.set_interval_lower(e.lo);
  r.set_interval_upper(e.hi);
  r.set_alpha(alpha);
  if (n_cal > 0) r.set_calibration_size(n_cal);
  (*p.mutable_groups())["sex"] = e.sex;
  return p;
}

v1::Outcome Observed(double y) {
  v1::Outcome o;
  o.set_regression(y);
  return o;
}

const ConformalScopeMetrics* Group(const ConformalMetrics& metrics,
                                   const std::string& label) {
  for (const ConformalScopeMetrics& g : metrics.groups) {
    if (g.group == label) return &g;
  }
  return nullptr;
}

// A seeded stream of intervals: group "F"'s intervals are narrower, so
// they miss more often.
std::vector<Interval> Stream(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 1);
  std::vector<Interval> events;
  for (int i = 0; i < n; ++i) {
    Interval e;
    e.sex = rng() % 2 ? "F" : "M";
    e.value = static_cast<double>(rng() % 100);
    const double half = e.sex == "F" ? 1.0 : 1.645;
    e.lo = e.value - half;
    e.hi = e.value + half;
    e.y = e.value + noise(rng);
    events.push_back(e);
  }
  return events;
}

TEST(ModelMonitorsQualityTest, IntervalsAreCountedOverallAndPerGroup) {
  ASSERT_OK_AND_ASSIGN(ModelMonitors monitors, ModelMonitors::Create({}));
  const std::vector<Interval> events = Stream(2000, 11);
  std::map<std::string, uint64_t> count, covered;
  double width = 0;
  for (const Interval& e : events) {
    const v1::Prediction p = Regression(e, 0.1, 1000);
    monitors.ObservePrediction(p);
    monitors.ObserveJoined(p, Observed(e.y));
    const bool in = e.lo <= e.y && e.y <= e.hi;
    for (const std::string& scope : {std::string("all"), e.sex}) {
      ++count[scope];
      covered[scope] += in ? 1 : 0;
    }
    width += e.hi - e.lo;
  }
  const ModelMetrics metrics = monitors.Snapshot();
  ASSERT_TRUE(metrics.conformal.has_value());
  const ConformalScopeMetrics& overall = metrics.conformal->overall;
  EXPECT_EQ(overall.count, count["all"]);
  EXPECT_EQ(overall.covered, covered["all"]);
  EXPECT_NEAR(*overall.mean_size, width / 2000, 1e-9);
  ASSERT_TRUE(overall.gate.has_value());
  EXPECT_TRUE(overall.gate->beta_binomial);
  EXPECT_EQ(overall.gate->calibration_size, 1000u);
  // The scores |y - y_hat| were kept: 2,000 of them.
  EXPECT_EQ(metrics.conformal->scores, 2000u);
  ASSERT_EQ(metrics.conformal_by_attribute.count("sex"), 1u);
  const ConformalMetrics& sex = metrics.conformal_by_attribute.at("sex");
  for (const std::string label : {"F", "M"}) {
    const ConformalScopeMetrics* g = Group(sex, label);
    ASSERT_NE(g, nullptr) << label;
    EXPECT_EQ(g->count, count[label]);
    EXPECT_EQ(g->covered, covered[label]);
  }
  const double f =
      static_cast<double>(covered["F"]) / static_cast<double>(count["F"]);
  const double m =
      static_cast<double>(covered["M"]) / static_cast<double>(count["M"]);
  ASSERT_TRUE(sex.coverage_gap.has_value());
  EXPECT_NEAR(*sex.coverage_gap, std::abs(m - f), 1e-12);
  EXPECT_EQ(sex.min_coverage_group, "F");
  // No fairness from a regression model: no attribute of that family.
  EXPECT_TRUE(metrics.fairness.empty());
}

TEST(ModelMonitorsQualityTest, ConformalOfReadsIntervalsAndSets) {
  ASSERT_OK_AND_ASSIGN(ModelMonitors regression, ModelMonitors::Create({}));
  constexpr double kInf = std::numeric_limits<double>::infinity();
  v1::Prediction p = Regression({5, -kInf, kInf, 0, "F"}, 0.2, 0);
  std::optional<ConformalObservation> o =
      regression.ConformalOf(PredictionView::Of(p), Observed(7));
  ASSERT_TRUE(o.has_value());
  EXPECT_TRUE(o->covered);
  EXPECT_TRUE(o->full);
  EXPECT_EQ(o->size, kInf);
  EXPECT_EQ(o->score, 2);
  EXPECT_EQ(o->alpha, 0.2);
  EXPECT_EQ(o->calibration_size, 0u);
  // Without alpha there is no conformal prediction.
  p.mutable_regression()->clear_alpha();
  EXPECT_FALSE(
      regression.ConformalOf(PredictionView::Of(p), Observed(7)).has_value());

  ModelMonitors::Options options;
  options.classes = {"a", "b", "c"};
  ASSERT_OK_AND_ASSIGN(ModelMonitors multiclass,
                       ModelMonitors::Create(options));
  v1::Prediction set;
  set.mutable_multiclass()->set_predicted_class("a");
  set.mutable_multiclass()->add_prediction_set_labels("a");
  set.mutable_multiclass()->add_prediction_set_labels("b");
  set.mutable_multiclass()->set_alpha(0.1);
  set.mutable_multiclass()->set_calibration_size(500);
  v1::Outcome label;
  label.set_class_label("c");
  o = multiclass.ConformalOf(PredictionView::Of(set), label);
  ASSERT_TRUE(o.has_value());
  EXPECT_FALSE(o->covered);
  EXPECT_FALSE(o->full);
  EXPECT_EQ(o->size, 2);
  EXPECT_EQ(o->calibration_size, 500u);
  label.set_class_label("b");
  EXPECT_TRUE(multiclass.ConformalOf(PredictionView::Of(set), label)->covered);
  set.mutable_multiclass()->add_prediction_set_labels("c");
  EXPECT_TRUE(multiclass.ConformalOf(PredictionView::Of(set), label)->full);
}

TEST(ModelMonitorsQualityTest, SetsCountBySize) {
  ModelMonitors::Options options;
  options.classes = {"a", "b", "c"};
  ASSERT_OK_AND_ASSIGN(ModelMonitors monitors, ModelMonitors::Create(options));
  // Sets of sizes 0, 1, 2, 3, each 10 times; the label is "a" every time.
  std::map<int, int> covered_by_size;
  const std::vector<std::string> classes = {"a", "b", "c"};
  for (int i = 0; i < 40; ++i) {
    const int size = i % 4;
    v1::Prediction p;
    p.mutable_multiclass()->set_predicted_class("b");
    // Sets start at "b" half of the time, so that some miss "a".
    const int first = (i / 4) % 2;
    bool has_a = false;
    for (int k = 0; k < size; ++k) {
      const std::string& label = classes[(first + k) % 3];
      p.mutable_multiclass()->add_prediction_set_labels(label);
      has_a = has_a || label == "a";
    }
    p.mutable_multiclass()->set_alpha(0.1);
    v1::Outcome o;
    o.set_class_label("a");
    monitors.ObserveJoined(p, o);
    covered_by_size[size] += has_a ? 1 : 0;
  }
  const ModelMetrics metrics = monitors.Snapshot();
  ASSERT_TRUE(metrics.conformal.has_value());
  const ConformalScopeMetrics& overall = metrics.conformal->overall;
  EXPECT_EQ(overall.count, 40u);
  EXPECT_EQ(overall.empty, 10u);
  EXPECT_EQ(overall.full, 10u);
  ASSERT_EQ(overall.by_set_size.size(), 4u);
  for (const CoverageBySetSize& s : overall.by_set_size) {
    EXPECT_EQ(s.count, 10u) << s.size;
    EXPECT_EQ(s.covered, static_cast<uint64_t>(covered_by_size[s.size]))
        << s.size;
  }
  // No group attribute: no per-group view.
  EXPECT_TRUE(metrics.conformal_by_attribute.empty());
}

TEST(ModelMonitorsQualityTest, MergeAndStateKeepTheConformalCounts) {
  const std::vector<Interval> events = Stream(1000, 5);
  ASSERT_OK_AND_ASSIGN(ModelMonitors whole, ModelMonitors::Create({}));
  ASSERT_OK_AND_ASSIGN(ModelMonitors first, ModelMonitors::Create({}));
  ASSERT_OK_AND_ASSIGN(ModelMonitors second, ModelMonitors::Create({}));
  for (size_t i = 0; i < events.size(); ++i) {
    const v1::Prediction p = Regression(events[i], 0.1, 0);
    whole.ObserveJoined(p, Observed(events[i].y));
    (i < 400 ? first : second).ObserveJoined(p, Observed(events[i].y));
  }
  ASSERT_OK(first.Merge(second));
  ASSERT_OK_AND_ASSIGN(ModelMonitors restored,
                       ModelMonitors::Deserialize(first.Serialize(), {}));
  for (const ModelMonitors* m : {&first, &restored}) {
    const ModelMetrics got = m->Snapshot();
    const ModelMetrics want = whole.Snapshot();
    EXPECT_EQ(got.conformal->overall.count, want.conformal->overall.count);
    EXPECT_EQ(got.conformal->overall.covered, want.conformal->overall.covered);
    EXPECT_EQ(got.conformal->overall.gate->p_value,
              want.conformal->overall.gate->p_value);
    const ConformalMetrics& a = got.conformal_by_attribute.at("sex");
    const ConformalMetrics& b = want.conformal_by_attribute.at("sex");
    ASSERT_EQ(a.groups.size(), b.groups.size());
    for (size_t g = 0; g < a.groups.size(); ++g) {
      EXPECT_EQ(a.groups[g].group, b.groups[g].group);
      EXPECT_EQ(a.groups[g].covered, b.groups[g].covered);
    }
  }
  // State written with other conformal options is refused.
  ModelMonitors::Options other;
  other.conformal.max_groups = 7;
  EXPECT_EQ(
      ModelMonitors::Deserialize(first.Serialize(), other).status().code(),
      absl::StatusCode::kDataLoss);
}

ItemCatalogue Catalogue(uint32_t items, const std::string& prefix) {
  v1::ItemCatalogue proto;
  for (uint32_t i = 0; i < items; ++i) {
    v1::CatalogueItem* item = proto.add_items();
    item->set_item_id(prefix + std::to_string(i));
    item->add_categories(i % 2 ? "odd" : "even");
  }
  absl::StatusOr<ItemCatalogue> catalogue =
      ItemCatalogue::FromProto(proto, ItemCatalogueOptions());
  EXPECT_TRUE(catalogue.ok()) << catalogue.status();
  return *std::move(catalogue);
}

v1::Prediction List(const std::vector<std::string>& items,
                    const std::string& user) {
  v1::Prediction p;
  for (const std::string& item : items) {
    p.mutable_recommendation()->add_item_ids(item);
  }
  p.mutable_recommendation()->set_user_id(user);
  return p;
}

TEST(ModelMonitorsQualityTest, ListsGoToTheRecommendationMonitor) {
  const ItemCatalogue catalogue = Catalogue(10, "i");
  ASSERT_OK_AND_ASSIGN(ModelMonitors monitors, ModelMonitors::Create({}));
  // Two lists: {i0, i1} (an even and an odd item: diversity 1) and {i2, i4}
  // (two even items: diversity 0); 4 distinct items of 10.
  const v1::Prediction a = List({"i0", "i1"}, "u1");
  const v1::Prediction b = List({"i2", "i4"}, "u2");
  monitors.ObservePrediction(PredictionView::Of(a), &catalogue);
  monitors.ObservePrediction(PredictionView::Of(b), &catalogue);
  v1::Outcome clicked;
  clicked.mutable_recommendation()->add_relevant_item_ids("i1");
  monitors.ObserveJoined(PredictionView::Of(a), clicked, &catalogue);
  v1::Outcome none;
  none.mutable_recommendation();
  monitors.ObserveJoined(PredictionView::Of(b), none, &catalogue);
  const ModelMetrics metrics = monitors.Snapshot();
  ASSERT_TRUE(metrics.recommendation.has_value());
  const RecommendationMetrics& r = *metrics.recommendation;
  EXPECT_EQ(r.lists, 2u);
  EXPECT_EQ(r.catalogue_size, 10u);
  EXPECT_NEAR(*r.diversity, 0.5, 1e-6);
  EXPECT_NEAR(*r.coverage, 0.4, 1e-12);
  EXPECT_EQ(r.feedback_lists, 2u);
  EXPECT_NEAR(*r.hit_rate, 0.5, 1e-12);
  EXPECT_NEAR(*r.mrr, 0.25, 1e-12);  // Rank 2 in one list of two.
  EXPECT_EQ(r.personalization_users, 2u);
  EXPECT_NEAR(*r.personalization, 1.0, 1e-12);  // No item in common.

  // A replaced catalogue starts the pane's recommendation metrics afresh.
  const ItemCatalogue replaced = Catalogue(4, "j");
  monitors.ObservePrediction(PredictionView::Of(List({"j0"}, "u3")), &replaced);
  const RecommendationMetrics after = *monitors.Snapshot().recommendation;
  EXPECT_EQ(after.lists, 1u);
  EXPECT_EQ(after.catalogue_size, 4u);

  // Round trip of the state, and a merge with a pane of the old catalogue:
  // the later one (the argument) is kept.
  ASSERT_OK_AND_ASSIGN(ModelMonitors restored,
                       ModelMonitors::Deserialize(monitors.Serialize(), {}));
  EXPECT_EQ(restored.Snapshot().recommendation->lists, 1u);
  ASSERT_OK_AND_ASSIGN(ModelMonitors older, ModelMonitors::Create({}));
  older.ObservePrediction(PredictionView::Of(a), &catalogue);
  ASSERT_OK(older.Merge(restored));
  EXPECT_EQ(older.Snapshot().recommendation->catalogue_size, 4u);
}

TEST(ModelMonitorsQualityTest, ListsWithoutACatalogueStillCountFeedback) {
  ASSERT_OK_AND_ASSIGN(ModelMonitors monitors, ModelMonitors::Create({}));
  const v1::Prediction a = List({"x", "y", "z"}, "u1");
  monitors.ObservePrediction(PredictionView::Of(a));
  v1::Outcome clicked;
  clicked.mutable_recommendation()->add_relevant_item_ids("z");
  monitors.ObserveJoined(PredictionView::Of(a), clicked);
  const RecommendationMetrics r = *monitors.Snapshot().recommendation;
  EXPECT_EQ(r.lists, 1u);
  EXPECT_EQ(r.unknown_items, 3u);
  EXPECT_FALSE(r.coverage.has_value());
  EXPECT_NEAR(*r.mrr, 1.0 / 3, 1e-12);
  EXPECT_FALSE(monitors.empty());
}

TEST(ModelMonitorsQualityTest, CountedInteractionsMergeAndSurviveTheState) {
  const ItemCatalogue catalogue = Catalogue(5, "i");
  ASSERT_OK_AND_ASSIGN(ModelMonitors first, ModelMonitors::Create({}));
  ASSERT_OK_AND_ASSIGN(ModelMonitors second, ModelMonitors::Create({}));
  v1::Outcome clicked;
  clicked.mutable_recommendation()->add_relevant_item_ids("i1");
  clicked.mutable_recommendation()->add_relevant_item_ids("i3");
  v1::Outcome again;
  again.mutable_recommendation()->add_relevant_item_ids("i1");
  v1::Outcome regression;
  regression.set_regression(1.0);
  first.CountInteractions(clicked, catalogue);
  first.CountInteractions(regression, catalogue);  // Not feedback: ignored.
  second.CountInteractions(again, catalogue);
  EXPECT_FALSE(second.empty());
  ASSERT_OK_AND_ASSIGN(ModelMonitors restored,
                       ModelMonitors::Deserialize(first.Serialize(), {}));
  ASSERT_OK(restored.Merge(second));
  ASSERT_NE(restored.interactions(), nullptr);
  // Two events: i1 in both, i3 in one.
  EXPECT_EQ(restored.interactions()->events(), 2u);
  EXPECT_EQ(restored.interactions()->count(1), 2u);
  EXPECT_EQ(restored.interactions()->count(3), 1u);
  EXPECT_EQ(restored.interactions()->count(0), 0u);
  // Panes that counted nothing carry nothing.
  ASSERT_OK_AND_ASSIGN(ModelMonitors plain, ModelMonitors::Create({}));
  EXPECT_EQ(plain.interactions(), nullptr);
}

}  // namespace
}  // namespace vigie::monitors
