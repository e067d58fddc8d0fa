#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "services/report/report_data.h"
#include "services/report/svg_chart.h"

// The sections of the report page (report_page.h), and what they share.
// Internal to services/report.

namespace vigie::report {

// The monitor family an alert's metric belongs to.
enum class Family {
  kFairness,
  kCalibration,
  kCoverage,
  kDrift,
  kRecommendation,
  kFootprint,  // Rule E1: energy and carbon.
  kOther,      // Liveness, and metrics of custom rules.
};
Family FamilyOf(absl::string_view metric);

// The open (firing or pending) alerts of `family`, whose scope holds every
// entry of `scope` (e.g. {"attribute", "race"}).
std::vector<const v1::Alert*> OpenAlerts(
    const ReportData& data, Family family,
    const std::vector<std::pair<std::string, std::string>>& scope = {});

// The verdict paragraph under a chart or a section: fine when no alert of
// the family is open, "needs attention" with the alerts' summaries when
// one fires, "not enough data" for insufficient-data alerts only.
std::string Verdict(const std::vector<const v1::Alert*>& alerts);

// "6-hour" for a period length, for the charts' sentences.
std::string PeriodName(absl::Duration length);

// The thresholds of those of `alerts` whose metric is one of `metrics`
// (those a chart plots; empty: any), as reference lines.
std::vector<ReferenceLine> AlertThresholds(
    const std::vector<const v1::Alert*>& alerts,
    const std::vector<absl::string_view>& metrics = {});

// A <figure> holding `svg` and its caption sentence.
std::string Figure(const std::string& svg, const std::string& caption);

// Unix seconds of the middle of a period, the x of its point.
double Middle(const Period& period);

std::string OverviewSection(const ReportData& data);
std::string AlertsSection(const ReportData& data);
std::string FairnessSection(const ReportData& data);
std::string CalibrationSection(const ReportData& data);
std::string CoverageSection(const ReportData& data);
std::string DriftSection(const ReportData& data);
std::string RecommendationSection(const ReportData& data);
// Binary models with scores: estimated beside realised performance
// (report_performance.cc).
std::string PerformanceSection(const ReportData& data);
// Whether the model ever reported a cost: else its page has no footprint
// section (report_footprint.cc), and FootprintSection is empty.
bool HasFootprint(const ReportData& data);
std::string FootprintSection(const ReportData& data);

}  // namespace vigie::report
