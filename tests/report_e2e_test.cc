// The report page of a model, served by the real server's HTTP endpoint
// and written by vigiectl's library, on the simulated credit stream: its
// figures checked against the test's own tally of the events it sent, its
// alerts' links, and its rendering in a real browser (headless Chromium)
// without a console message.

#include <httplib.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "tests/testutil/loopback_server.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tools/report_file.h"
#include "tools/simulator.h"

namespace vigie {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// 1234567 as "1,234,567": how the page writes counts.
std::string WithCommas(uint64_t n) {
  std::string digits = absl::StrCat(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

// The page without the time it was generated at, which differs between two
// renderings of the same state.
std::string WithoutGenerationTime(const std::string& page) {
  return std::regex_replace(page, std::regex("report generated [^<]*"), "");
}

class ReportE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tools::SimulatorOptions options;  // The demo: 20,000 predictions, bias.
    ASSERT_OK_AND_ASSIGN(auto simulator, tools::Simulator::Create(options));
    tools::EventRecord record;
    absl::Time last = absl::InfinitePast();
    std::vector<std::pair<absl::Time, const v1::Prediction*>> predictions;
    while (simulator->Next(&record)) {
      for (v1::Event& event : record.events) events_.push_back(event);
    }
    for (const v1::Event& event : events_) {
      if (!event.has_prediction()) continue;
      const absl::Time t =
          absl::FromUnixSeconds(event.prediction().event_time().seconds());
      last = std::max(last, t);
      predictions.emplace_back(t, &event.prediction());
    }
    // The current window: the last 24 h up to the end of the latest 1 h
    // pane (the demo model's panes), panes counting by their start.
    const absl::Time end =
        absl::FromUnixSeconds((absl::ToUnixSeconds(last) / 3600 + 1) * 3600);
    window_start_ = end - absl::Hours(24);
    for (const auto& [t, p] : predictions) {
      if (t < window_start_) continue;
      const std::string& sex = p->groups().at("sex");
      ++predictions_[sex];
      if (p->binary().score() >= 0.5) ++selected_[sex];  // demo's threshold.
    }
    absl::StatusOr<services::ServerConfig> config =
        services::DefaultServerConfig();
    ASSERT_OK(config.status());
    config->data_dir = dir_.Join("state");
    ASSERT_OK(server_.Start(*config, &clock_));
    server_.SendAll(events_);
    address_ = server_.server().http_address();
  }

  httplib::Result Get(const std::string& path) {
    httplib::Client http(absl::StrCat("http://", address_));
    http.set_read_timeout(60);
    return http.Get(path);
  }

  testutil::TempDir dir_;
  common::FakeClock clock_{absl::FromUnixSeconds(1'767'700'000)};
  testutil::LoopbackServer server_;
  std::vector<v1::Event> events_;
  absl::Time window_start_;
  std::map<std::string, uint64_t> predictions_, selected_;
  std::string address_;
};

TEST_F(ReportE2eTest, PageShowsTheStreamsFiguresAndItsAlerts) {
  httplib::Result res = Get("/models/demo");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_THAT(res->get_header_value("Content-Security-Policy"),
              HasSubstr("default-src 'none'"));
  const std::string& page = res->body;

  // Each sex's row: predictions, all joined with their outcome, and the
  // selection rate, from the test's own count of the window's events.
  ASSERT_EQ(predictions_.size(), 2u);
  for (const auto& [sex, n] : predictions_) {
    const std::string row = absl::StrCat(
        "<tr><td>", sex, "</td><td>", WithCommas(n), "</td><td>", WithCommas(n),
        "</td><td>",
        absl::StrFormat("%.3g", static_cast<double>(selected_[sex]) /
                                    static_cast<double>(n)),
        "</td>");
    EXPECT_THAT(page, HasSubstr(row)) << sex;
  }
  // The model's counters: all of the stream.
  EXPECT_THAT(page, HasSubstr(absl::StrCat("<td>", WithCommas(20'000),
                                           "</td><td>", WithCommas(20'000))));

  // The injected bias fires a fairness alert on sex; it is on the page with
  // its commitment, and it links to this page.
  ASSERT_OK_AND_ASSIGN(v1::ListAlertsReply alerts,
                       server_.client().ListAlerts({}));
  int fairness_on_sex = 0;
  for (const v1::Alert& alert : alerts.alerts()) {
    if (alert.state() != v1::ALERT_STATE_FIRING) continue;
    EXPECT_EQ(alert.report_url(),
              absl::StrCat("http://", address_, "/models/demo"));
    EXPECT_THAT(page, HasSubstr(absl::StrCat("<b>", alert.rule_id(), "</b>")));
    EXPECT_THAT(page, HasSubstr(alert.element()));
    const auto attribute = alert.scope().find("attribute");
    if (alert.rule_id()[0] == 'F' && attribute != alert.scope().end() &&
        attribute->second == "sex") {
      ++fairness_on_sex;
    }
  }
  EXPECT_GT(fairness_on_sex, 0);
  EXPECT_THAT(page, HasSubstr("labelia-dsrc@v202301"));
  const size_t sex_block = page.find("By sex</h3>");
  ASSERT_NE(sex_block, std::string::npos);
  // The first verdict of the sex block says it needs attention.
  EXPECT_EQ(page.find("<div class=\"verdict attention\"", sex_block),
            page.find("<div class=\"verdict", sex_block));

  // No script, nothing fetched from elsewhere.
  EXPECT_THAT(page, Not(HasSubstr("<script")));
  EXPECT_THAT(page, Not(HasSubstr(" src=")));
}

TEST_F(ReportE2eTest, IndexUnknownModelsAndBadPaths) {
  httplib::Result index = Get("/");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->status, 200);
  EXPECT_THAT(index->body, HasSubstr("<a href=\"/models/demo\">demo</a>"));
  httplib::Result unknown = Get("/models/nobody");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_THAT(unknown->body, HasSubstr("nobody"));
  httplib::Result bad = Get("/models/%zz");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

TEST_F(ReportE2eTest, VigiectlWritesTheSamePage) {
  const std::string file = dir_.Join("report.html");
  ASSERT_OK(tools::WriteReport(server_.client(), "demo", false,
                               absl::Seconds(30), file));
  httplib::Result res = Get("/models/demo");
  ASSERT_TRUE(res);
  EXPECT_EQ(WithoutGenerationTime(ReadFile(file)),
            WithoutGenerationTime(res->body));
  EXPECT_EQ(tools::WriteReport(server_.client(), "nobody", false,
                               absl::Seconds(30), dir_.Join("x.html"))
                .code(),
            absl::StatusCode::kNotFound);
}

// Headless Chromium: the DOM it rendered, and what it logged to the
// console (every console message is logged as "CONSOLE" with
// --enable-logging=stderr).
struct Rendered {
  int exit_code = -1;
  std::string dom;
  std::string log;
};

Rendered RenderInChromium(const std::string& chromium, const std::string& url,
                          const testutil::TempDir& dir,
                          const std::string& screenshot = "") {
  const std::string profile = dir.Join("chromium-profile");
  const std::string dom = dir.Join("dom.html"), log = dir.Join("chromium.log");
  // --no-sandbox: tests may run as root, where Chromium refuses its sandbox.
  const std::string flags = absl::StrCat(
      "--headless --no-sandbox --disable-gpu --no-first-run "
      "--enable-logging=stderr --v=0 --user-data-dir=",
      profile);
  Rendered out;
  out.exit_code =
      std::system(absl::StrCat("timeout 120 ", chromium, " ", flags,
                               " --dump-dom '", url, "' > ", dom, " 2> ", log)
                      .c_str());
  out.dom = ReadFile(dom);
  out.log = ReadFile(log);
  if (!screenshot.empty()) {
    std::system(absl::StrCat("timeout 120 ", chromium, " ", flags,
                             " --hide-scrollbars --window-size=1100,4000 "
                             "--screenshot=",
                             screenshot, " '", url, "' > /dev/null 2>&1")
                    .c_str());
  }
  return out;
}

std::vector<std::string> ConsoleLines(const std::string& log) {
  std::vector<std::string> lines;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find(":CONSOLE") != std::string::npos) lines.push_back(line);
  }
  return lines;
}

TEST_F(ReportE2eTest, RendersInChromiumWithoutConsoleMessages) {
  const char* env = std::getenv("VIGIE_CHROMIUM");
  const std::string chromium = env != nullptr ? env : "/usr/bin/chromium";
  if (std::system(absl::StrCat("test -x ", chromium).c_str()) != 0) {
    GTEST_SKIP() << chromium
                 << " is not there (deploy/setup.sh installs Debian's "
                    "chromium; VIGIE_CHROMIUM names another): the page is "
                    "not rendered in a browser";
  }
  // The harness first: a page that logs an error and throws must show.
  const std::string bad = dir_.Join("bad.html");
  std::ofstream(bad) << "<html><body><script>console.error('vigie-probe');"
                        "missing();</script></body></html>";
  const Rendered probe =
      RenderInChromium(chromium, absl::StrCat("file://", bad), dir_);
  ASSERT_EQ(probe.exit_code, 0) << probe.log;
  ASSERT_GE(ConsoleLines(probe.log).size(), 2u) << probe.log;

  const std::string screenshot = dir_.Join("report.png");
  const Rendered page = RenderInChromium(
      chromium, absl::StrCat("http://", address_, "/models/demo"), dir_,
      screenshot);
  ASSERT_EQ(page.exit_code, 0) << page.log;
  EXPECT_TRUE(ConsoleLines(page.log).empty()) << ConsoleLines(page.log).front();
  // What the browser built: every section, the charts, the figures.
  for (const char* text :
       {"<h2>Overview</h2>", "<h2>Alerts</h2>",
        "<h2>Fairness between groups</h2>", "<h2>Calibration</h2>",
        "<h2>Drift</h2>", "reliability diagram",
        "selection rate per sex group over time"}) {
    EXPECT_THAT(page.dom, HasSubstr(text));
  }
  EXPECT_THAT(page.dom,
              HasSubstr(absl::StrCat("<td>female</td><td>",
                                     WithCommas(predictions_["female"]))));
  // The screenshot is a real picture (a PNG of some size).
  const std::string png = ReadFile(screenshot);
  ASSERT_GT(png.size(), 10'000u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
}

}  // namespace
}  // namespace vigie
