// The dashboard's HTTP surface: pages and built-in assets, JSON errors with their statuses,
// paths outside the assets, bounded requests, read-only methods, the Host check, and markup
// in the store that only ever travels as JSON text.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/files.h"
#include "server/assets.h"
#include "server/served.h"

namespace llmtune {
namespace {

using nlohmann::json;
using test::fixture_dir;
using test::Served;

// A JSON error: the status, and a message that says what was wrong.
void expect_error(const httplib::Response& r, int status, const std::string& says) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.get_header_value("Content-Type"), "application/json") << r.body;
  const json body = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << r.body;
  EXPECT_EQ(body["status"], status);
  EXPECT_NE(body["error"].get<std::string>().find(says), std::string::npos) << r.body;
}

TEST(ServerHttp, PagesAreTheBuiltInShellWithAContentSecurityPolicy) {
  LLMTUNE_NEEDS_FIXTURE_STORE();
  Served s(fixture_dir() + "/runs");
  const server::Asset* shell = server::asset_find("index.html");
  ASSERT_NE(shell, nullptr);
  for (const char* page : {"/", "/experiments/1", "/trials/3", "/compare"}) {
    const httplib::Response r = s.get(page);
    EXPECT_EQ(r.status, 200) << page;
    EXPECT_EQ(r.body, shell->bytes) << page;
    EXPECT_EQ(r.get_header_value("Content-Type"), "text/html; charset=utf-8");
    EXPECT_NE(r.get_header_value("Content-Security-Policy").find("script-src 'self'"),
              std::string::npos);
    EXPECT_EQ(r.get_header_value("X-Content-Type-Options"), "nosniff");
  }
  const httplib::Response js = s.get("/static/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  const httplib::Response chart = s.get("/static/chart.min.js");
  EXPECT_EQ(chart.status, 200);
  EXPECT_NE(chart.body.find("Chart.js v3"), std::string::npos);
}

TEST(ServerHttp, UnknownThingsAre404AndMalformedOnes400AsJson) {
  LLMTUNE_NEEDS_FIXTURE_STORE();
  Served s(fixture_dir() + "/runs");
  expect_error(s.get("/api/experiments/999"), 404, "no experiment 999");
  expect_error(s.get("/api/trials/999"), 404, "no trial 999");
  expect_error(s.get("/api/trials/999/metrics"), 404, "no trial 999");
  expect_error(s.get("/api/experiments/abc"), 400, "positive integer");
  expect_error(s.get("/api/experiments/0"), 400, "positive integer");
  expect_error(s.get("/api/trials/99999999999999999999999"), 400, "positive integer");
  expect_error(s.get("/api/experiments/1/metrics?after=-1"), 400, "after");
  expect_error(s.get("/api/experiments/1/metrics?after=1x"), 400, "after");
  expect_error(s.get("/api/nothing"), 404, "no API route");
  expect_error(s.get("/experiments/abc"), 404, "no such page");
  expect_error(s.get("/nothing"), 404, "no such page");
}

// Nothing but the built-in assets is served: a name is looked up, never joined to a path.
TEST(ServerHttp, NoPathOutsideTheAssets) {
  LLMTUNE_NEEDS_FIXTURE_STORE();
  Served s(fixture_dir() + "/runs");
  for (const char* path :
       {"/static/../llmtune.db", "/static/..%2fllmtune.db", "/static/%2e%2e%2f%2e%2e%2fgrid.yaml",
        "/static/..", "/static/.%2e/.%2e/etc/passwd", "/static//etc/passwd", "/llmtune.db",
        "/runs/llmtune.db", "/static/index.html%00.js", "/static/nothing.js", "/../grid.yaml",
        "/static/%2fetc%2fpasswd"}) {
    const httplib::Response r = s.get(path);
    EXPECT_EQ(r.status, 404) << path << ": " << r.body.substr(0, 200);
    EXPECT_EQ(r.body.find("SQLite format"), std::string::npos) << path;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << path;
  }
}

TEST(ServerHttp, ReadOnlyBoundedAndOnlyForThisMachine) {
  LLMTUNE_NEEDS_FIXTURE_STORE();
  const std::string db = fixture_dir() + "/runs/llmtune.db";
  const std::string before = read_file(db);
  Served s(fixture_dir() + "/runs");
  httplib::Client c = s.client();
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH"}) {
    httplib::Request req;
    req.method = method;
    req.path = "/api/experiments/1";
    req.body = std::string(1000, 'x');  // never read (a body larger than the socket buffers
                                        // would reset the connection before the answer)
    req.set_header("Content-Type", "application/json");
    const httplib::Result r = c.send(req);
    ASSERT_TRUE(r) << method;
    expect_error(r.value(), 405, "read-only");
  }
  expect_error(s.get("/api/experiments/" + std::string(10000, '1')), 414, "too long");
  expect_error(s.get("/api/experiments", {{"X-Padding", std::string(10000, 'x')}}), 400,
               "malformed");
  expect_error(s.get("/api/experiments", {{"Host", "attacker.example:8080"}}), 403, "this machine");
  EXPECT_EQ(s.get("/api/experiments", {{"Host", "localhost:8080"}}).status, 200);
  EXPECT_EQ(s.get("/api/experiments", {{"Host", "[::1]:8080"}}).status, 200);
  EXPECT_EQ(read_file(db), before);  // the store is as it was
}

// Experiment 2's name is markup: the API carries it as a JSON string, and no response ever
// puts store text into HTML (the pages insert it as text; the browser test checks that).
TEST(ServerHttp, MarkupFromTheStoreTravelsOnlyAsJsonText) {
  LLMTUNE_NEEDS_FIXTURE_STORE();
  Served s(fixture_dir() + "/runs");
  const json list = s.json("/api/experiments");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1]["name"], "<img src=x onerror=window.__xss=1><script>window.__xss=2</script>");
  for (const char* page : {"/", "/experiments/2", "/trials/5"}) {
    const httplib::Response r = s.get(page);
    EXPECT_EQ(r.body.find("onerror"), std::string::npos) << page;
  }
}

}  // namespace
}  // namespace llmtune
