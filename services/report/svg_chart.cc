#include "services/report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "services/report/html.h"

namespace vigie::report {
namespace {

// Okabe and Ito's palette, distinguishable with the common colour-vision
// deficiencies; its yellow is left out (unreadable on white).
constexpr const char* kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                    "#CC79A7", "#56B4E9", "#000000", "#999999"};
constexpr const char* kAlarm = "#C0392B";
constexpr const char* kCalm = "#0072B2";

constexpr double kWidth = 720;
constexpr double kLeft = 64;
constexpr double kLegend = 180;
constexpr double kTop = 16;
constexpr double kBottom = 40;

std::string F(double v) { return absl::StrFormat("%.1f", v); }

std::string Open(double width, double height, const std::string& title) {
  return absl::StrCat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 ", F(width), " ",
      F(height), "\" width=\"100%\" style=\"max-width:", F(width),
      "px\" role=\"img\" aria-label=\"", Escape(title), "\"><title>",
      Escape(title), "</title>");
}

std::string Text(double x, double y, const std::string& text,
                 const char* anchor = "start", const char* extra = "") {
  return absl::StrCat("<text x=\"", F(x), "\" y=\"", F(y), "\" text-anchor=\"",
                      anchor, "\" ", extra, ">", Escape(text), "</text>");
}

std::string Shorten(const std::string& name, size_t max) {
  if (name.size() <= max) return name;
  return name.substr(0, max - 1) + "…";
}

std::string TickLabel(double v) { return Number(v); }

// Lower and upper bounds of a y axis showing `values`, padded by a twentieth
// of their range, and widened when they are all equal.
std::pair<double, double> Range(const std::vector<double>& values) {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (double v : values) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (!std::isfinite(lo)) return {0, 1};
  if (lo == hi) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    return {lo - pad, hi + pad};
  }
  const double pad = (hi - lo) / 20;
  return {lo - pad, hi + pad};
}

}  // namespace

double Scale(double value, double lo, double hi, double from, double to) {
  if (!(hi > lo)) return (from + to) / 2;
  return from + (value - lo) / (hi - lo) * (to - from);
}

std::vector<double> NiceTicks(double lo, double hi, int count) {
  std::vector<double> ticks;
  if (!(hi > lo) || count < 1 || !std::isfinite(lo) || !std::isfinite(hi)) {
    if (std::isfinite(lo)) ticks.push_back(lo);
    return ticks;
  }
  const double raw = (hi - lo) / count;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / magnitude;
  const double step = (norm < 1.5 ? 1
                       : norm < 3 ? 2
                       : norm < 7 ? 5
                                  : 10) *
                      magnitude;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9;
       t += step) {
    // Snap values that lost a few ulps on the way ("0.30000000000000004").
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0 : t);
  }
  return ticks;
}

std::string LineChart(const LineChartSpec& spec) {
  const double height = 260;
  const double x0 = kLeft, x1 = kWidth - kLegend, y0 = kTop,
               y1 = height - kBottom;
  std::vector<double> xs, ys;
  for (const Line& line : spec.lines) {
    for (const Point& p : line.points) {
      if (!std::isfinite(p.y) || !std::isfinite(p.x)) continue;
      xs.push_back(p.x);
      ys.push_back(p.y);
    }
  }
  std::string svg = Open(kWidth, height, spec.title);
  if (xs.empty()) {
    absl::StrAppend(&svg,
                    Text(kWidth / 2, height / 2, "no data yet", "middle",
                         "class=\"muted\""),
                    "</svg>");
    return svg;
  }
  for (const ReferenceLine& r : spec.references) ys.push_back(r.value);
  auto [y_lo, y_hi] = Range(ys);
  if (spec.y_min.has_value()) y_lo = *spec.y_min;
  if (spec.y_max.has_value()) y_hi = *spec.y_max;
  const auto [x_lo_it, x_hi_it] = std::minmax_element(xs.begin(), xs.end());
  const double x_lo = *x_lo_it, x_hi = *x_hi_it;
  auto X = [&](double x) { return Scale(x, x_lo, x_hi, x0, x1); };
  auto Y = [&](double y) {
    return Scale(std::clamp(y, y_lo, y_hi), y_lo, y_hi, y1, y0);
  };
  // Axes and grid.
  for (double t : NiceTicks(y_lo, y_hi, 4)) {
    absl::StrAppend(&svg, "<line class=\"grid\" x1=\"", F(x0), "\" x2=\"",
                    F(x1), "\" y1=\"", F(Y(t)), "\" y2=\"", F(Y(t)), "\"/>",
                    Text(x0 - 6, Y(t) + 4, TickLabel(t), "end"));
  }
  const bool days = x_hi - x_lo > 2 * 86400;
  const int x_ticks = x_hi > x_lo ? 5 : 0;
  for (int i = 0; i <= x_ticks; ++i) {
    const double x = x_lo + (x_hi - x_lo) * i / std::max(x_ticks, 1);
    absl::StrAppend(
        &svg,
        Text(X(x), y1 + 16,
             absl::FormatTime(days ? "%m-%d" : "%m-%d %H:%M",
                              absl::FromUnixSeconds(static_cast<int64_t>(x)),
                              absl::UTCTimeZone()),
             "middle"));
  }
  absl::StrAppend(
      &svg, "<line class=\"axis\" x1=\"", F(x0), "\" x2=\"", F(x1), "\" y1=\"",
      F(y1), "\" y2=\"", F(y1), "\"/>",
      Text(12, (y0 + y1) / 2, spec.y_label, "middle",
           absl::StrCat("transform=\"rotate(-90 12 ", F((y0 + y1) / 2), ")\"")
               .c_str()));
  for (const ReferenceLine& r : spec.references) {
    absl::StrAppend(&svg, "<line class=\"reference\" x1=\"", F(x0), "\" x2=\"",
                    F(x1), "\" y1=\"", F(Y(r.value)), "\" y2=\"", F(Y(r.value)),
                    "\"/>",
                    Text(x1 + 4, Y(r.value) + 4, Shorten(r.label, 26), "start",
                         "class=\"reference-label\""));
  }
  // Series, then the legend under the reference labels.
  double legend_y = y0 + 8 + 14 * static_cast<double>(spec.references.size());
  for (size_t i = 0; i < spec.lines.size(); ++i) {
    const Line& line = spec.lines[i];
    const char* colour = kPalette[i % std::size(kPalette)];
    std::string path;
    std::string dots;
    for (const Point& p : line.points) {
      if (!std::isfinite(p.y) || !std::isfinite(p.x)) continue;
      absl::StrAppend(&path, path.empty() ? "M" : " L", F(X(p.x)), " ",
                      F(Y(p.y)));
      absl::StrAppend(
          &dots, "<circle cx=\"", F(X(p.x)), "\" cy=\"", F(Y(p.y)),
          "\" r=\"3\" fill=\"", colour, "\"><title>",
          Escape(p.tooltip.empty() ? absl::StrCat(line.name, ": ", Number(p.y))
                                   : p.tooltip),
          "</title></circle>");
    }
    if (path.empty()) continue;
    absl::StrAppend(&svg, "<path d=\"", path, "\" fill=\"none\" stroke=\"",
                    colour, "\" stroke-width=\"2\"/>", dots);
    absl::StrAppend(&svg, "<rect x=\"", F(x1 + 4), "\" y=\"", F(legend_y - 9),
                    "\" width=\"10\" height=\"10\" fill=\"", colour, "\"/>",
                    Text(x1 + 18, legend_y, Shorten(line.name, 24)));
    legend_y += 14;
  }
  svg += "</svg>";
  return svg;
}

std::string BarChart(const BarChartSpec& spec) {
  constexpr double kRow = 22;
  constexpr double kLabels = 190;
  const double height =
      kTop + kRow * static_cast<double>(std::max<size_t>(spec.bars.size(), 1)) +
      kBottom;
  const double x0 = kLabels, x1 = kWidth - 90, y1 = height - kBottom;
  std::string svg = Open(kWidth, height, spec.title);
  if (spec.bars.empty()) {
    absl::StrAppend(
        &svg,
        Text(kWidth / 2, kTop + 14, "no data yet", "middle", "class=\"muted\""),
        "</svg>");
    return svg;
  }
  double x_max = 0;
  for (const Bar& bar : spec.bars) {
    if (std::isfinite(bar.value)) x_max = std::max(x_max, bar.value);
  }
  for (const ReferenceLine& r : spec.references) {
    x_max = std::max(x_max, r.value);
  }
  if (spec.x_max.has_value()) x_max = *spec.x_max;
  if (!(x_max > 0)) x_max = 1;
  auto X = [&](double x) {
    return Scale(std::clamp(x, 0.0, x_max), 0, x_max, x0, x1);
  };
  for (double t : NiceTicks(0, x_max, 4)) {
    absl::StrAppend(&svg, "<line class=\"grid\" x1=\"", F(X(t)), "\" x2=\"",
                    F(X(t)), "\" y1=\"", F(kTop), "\" y2=\"", F(y1), "\"/>",
                    Text(X(t), y1 + 16, TickLabel(t), "middle"));
  }
  for (size_t i = 0; i < spec.bars.size(); ++i) {
    const Bar& bar = spec.bars[i];
    const double y = kTop + kRow * static_cast<double>(i);
    const double value = std::isfinite(bar.value) ? bar.value : 0;
    absl::StrAppend(
        &svg, Text(x0 - 8, y + 15, Shorten(bar.label, 28), "end"), "<rect x=\"",
        F(x0), "\" y=\"", F(y + 4), "\" width=\"", F(X(value) - x0),
        "\" height=\"", F(kRow - 8), "\" fill=\"", bar.alarm ? kAlarm : kCalm,
        "\"><title>",
        Escape(bar.tooltip.empty()
                   ? absl::StrCat(bar.label, ": ", Number(value))
                   : bar.tooltip),
        "</title></rect>",
        Text(X(value) + 4, y + 15,
             bar.alarm && !spec.alarm_note.empty()
                 ? absl::StrCat(Number(bar.value), " (", spec.alarm_note, ")")
                 : Number(bar.value)));
  }
  for (const ReferenceLine& r : spec.references) {
    absl::StrAppend(&svg, "<line class=\"reference\" x1=\"", F(X(r.value)),
                    "\" x2=\"", F(X(r.value)), "\" y1=\"", F(kTop - 4),
                    "\" y2=\"", F(y1), "\"/>",
                    Text(X(r.value), kTop - 6, Shorten(r.label, 30), "middle",
                         "class=\"reference-label\""));
  }
  absl::StrAppend(&svg, Text((x0 + x1) / 2, height - 6, spec.x_label, "middle"),
                  "</svg>");
  return svg;
}

std::string ReliabilityDiagram(const std::string& title,
                               const std::vector<ReliabilityBin>& bins) {
  constexpr double kSide = 300, kMargin = 48, kSize = kSide + 2 * kMargin;
  const double x0 = kMargin, x1 = kMargin + kSide, y0 = 16, y1 = 16 + kSide;
  auto X = [&](double p) { return Scale(p, 0, 1, x0, x1); };
  auto Y = [&](double p) { return Scale(p, 0, 1, y1, y0); };
  std::string svg = Open(kSize, kSize, title);
  for (double t : NiceTicks(0, 1, 5)) {
    absl::StrAppend(&svg, "<line class=\"grid\" x1=\"", F(x0), "\" x2=\"",
                    F(x1), "\" y1=\"", F(Y(t)), "\" y2=\"", F(Y(t)), "\"/>",
                    Text(x0 - 6, Y(t) + 4, TickLabel(t), "end"),
                    Text(X(t), y1 + 16, TickLabel(t), "middle"));
  }
  absl::StrAppend(&svg, "<line class=\"reference\" x1=\"", F(X(0)), "\" y1=\"",
                  F(Y(0)), "\" x2=\"", F(X(1)), "\" y2=\"", F(Y(1)),
                  "\"><title>perfect calibration</title></line>");
  uint64_t most = 1;
  for (const ReliabilityBin& b : bins) most = std::max(most, b.count);
  for (const ReliabilityBin& b : bins) {
    if (b.count == 0) continue;
    const double radius = 3 + 7 * std::sqrt(static_cast<double>(b.count) /
                                            static_cast<double>(most));
    absl::StrAppend(
        &svg, "<line class=\"interval\" x1=\"", F(X(b.mean_predicted)),
        "\" x2=\"", F(X(b.mean_predicted)), "\" y1=\"", F(Y(b.observed_lower)),
        "\" y2=\"", F(Y(b.observed_upper)), "\"/>", "<circle cx=\"",
        F(X(b.mean_predicted)), "\" cy=\"", F(Y(b.observed)), "\" r=\"",
        F(radius), "\" fill=\"", kCalm, "\" fill-opacity=\"0.75\"><title>",
        Escape(absl::StrCat(
            "predicted ", Number(b.mean_predicted), ", observed ",
            Number(b.observed), " [", Number(b.observed_lower), ", ",
            Number(b.observed_upper), "], ", Count(b.count), " predictions")),
        "</title></circle>");
  }
  absl::StrAppend(
      &svg,
      Text((x0 + x1) / 2, kSize - 8, "mean predicted probability", "middle"),
      Text(12, (y0 + y1) / 2, "observed frequency", "middle",
           absl::StrCat("transform=\"rotate(-90 12 ", F((y0 + y1) / 2), ")\"")
               .c_str()),
      "</svg>");
  return svg;
}

}  // namespace vigie::report
