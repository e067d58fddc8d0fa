#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

// Inline SVG charts for the report page: no script, no external asset, a
// <title> for screen readers, and each point's exact value as its tooltip.

namespace vigie::report {

struct Point {
  double x = 0;  // Unix seconds on time axes.
  double y = 0;
  std::string tooltip;  // Shown on hover; empty: "<series>: <y>".
};

struct Line {
  std::string name;
  std::vector<Point> points;
};

// A horizontal (line charts) or vertical (bar charts) reference line, e.g.
// a threshold or a target.
struct ReferenceLine {
  double value = 0;
  std::string label;
};

struct LineChartSpec {
  std::string title;  // What the chart shows, for screen readers.
  std::string y_label;
  std::vector<Line> lines;
  std::vector<ReferenceLine> references;
  // The y range; unset: the data's (and the references'), padded.
  std::optional<double> y_min;
  std::optional<double> y_max;
};

// Lines over time, one colour each (colour-blind-safe palette), a legend
// on the right. Points with a non-finite y are skipped.
std::string LineChart(const LineChartSpec& spec);

struct Bar {
  std::string label;
  double value = 0;
  bool alarm = false;  // Drawn in the alarm colour.
  std::string tooltip;
};

struct BarChartSpec {
  std::string title;
  std::string x_label;
  std::vector<Bar> bars;
  std::vector<ReferenceLine> references;
  std::optional<double> x_max;  // Unset: the largest bar or reference.
  // Written after the value of an alarmed bar, e.g. "drifted".
  std::string alarm_note;
};

// Horizontal bars, one row per bar, from 0.
std::string BarChart(const BarChartSpec& spec);

struct ReliabilityBin {
  double mean_predicted = 0;
  double observed = 0;
  double observed_lower = 0;  // Of its 95% interval.
  double observed_upper = 0;
  uint64_t count = 0;
};

// The reliability diagram: observed frequency against mean predicted
// probability per bin, each with its interval, on the unit square with the
// diagonal of perfect calibration; a dot's area grows with its bin's count.
std::string ReliabilityDiagram(const std::string& title,
                               const std::vector<ReliabilityBin>& bins);

// The plot-area coordinate of `value` on an axis from `lo` to `hi` drawn
// from pixel `from` to pixel `to` (to < from for y axes); the middle when
// the axis has no extent.
double Scale(double value, double lo, double hi, double from, double to);

// Up to about `count` round tick values covering [lo, hi] (steps of 1, 2
// or 5 times a power of ten).
std::vector<double> NiceTicks(double lo, double hi, int count);

}  // namespace vigie::report
