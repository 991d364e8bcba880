#include "server/http.h"

#include <httplib.h>

#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "server/api.h"
#include "server/assets.h"
#include "track/store.h"

namespace llmtune::server {

namespace {

using httplib::Request;
using httplib::Response;
using nlohmann::json;

// Scripts and styles only from this server; nothing framed, posted or fetched elsewhere.
constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

constexpr size_t kMaxBodyBytes = 4096;  // GET needs none; a body is never read

void reply_json(Response& res, int status, const json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void reply_error(Response& res, int status, const std::string& message) {
  reply_json(res, status, {{"error", message}, {"status", status}});
}

// The host part of a Host header: "127.0.0.1:8080" -> "127.0.0.1", "[::1]:80" -> "::1".
std::string host_name(const std::string& header) {
  if (header.starts_with("[")) {
    const size_t end = header.find(']');
    return end == std::string::npos ? header : header.substr(1, end - 1);
  }
  return header.substr(0, header.find(':'));
}

}  // namespace

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

struct Dashboard::Impl {
  ServeOptions options;
  std::unique_ptr<track::Store> store;
  std::mutex mutex;  // one request reads the store at a time
  // The list entries of experiments by id, with what they were computed from: experiments'
  // states and archived flags, trials' states, steps, restarts and rungs (their metric rows
  // change only with those).
  std::map<int64_t, std::pair<std::string, json>> summaries;
  httplib::Server http;
  int port = 0;

  json experiments();
  void routes();
  // A handler answering with the JSON `answer` computes, or with the error it throws.
  httplib::Server::Handler api(std::function<json(const Request&)> answer);
  httplib::Server::HandlerResponse screen(const Request& req, Response& res) const;
};

json Dashboard::Impl::experiments() {
  json out = json::array();
  for (const track::ExperimentRow& e : store->experiments()) {
    std::string version = str(e.state, " ", e.end_time, e.archived ? " archived" : "");
    for (const track::TrialRow& t : store->trials(e.id)) {
      version += str(" ", t.id, t.state, t.steps_completed, "/", t.restarts, t.searcher_state, "@",
                     t.rung);
    }
    auto& [seen, summary] = summaries[e.id];
    if (seen != version || e.state == "ACTIVE") {
      summary = experiment_summary(*store, e);
      seen = version;
    }
    out.push_back(summary);
  }
  return out;
}

httplib::Server::Handler Dashboard::Impl::api(std::function<json(const Request&)> answer) {
  return [this, answer](const Request& req, Response& res) {
    try {
      std::lock_guard<std::mutex> lock(mutex);
      reply_json(res, 200, answer(req));
    } catch (const HttpError& e) {
      reply_error(res, e.status(), e.what());
    } catch (const std::exception& e) {
      reply_error(res, 500, e.what());
    }
  };
}

// Refuses what the dashboard never answers before it is routed: methods other than GET and
// HEAD (so no body is read), and, while bound to loopback, a Host that is not this machine (a
// page of another site reaching the server through DNS rebinding).
httplib::Server::HandlerResponse Dashboard::Impl::screen(const Request& req, Response& res) const {
  if (req.method != "GET" && req.method != "HEAD") {
    res.set_header("Allow", "GET, HEAD");
    reply_error(res, 405, str("the dashboard is read-only: ", req.method, " is not allowed"));
    return httplib::Server::HandlerResponse::Handled;
  }
  const std::string host = host_name(req.get_header_value("Host"));
  if (is_loopback(options.host) && !is_loopback(host) && host != options.host) {
    reply_error(res, 403, "this server answers only requests addressed to this machine");
    return httplib::Server::HandlerResponse::Handled;
  }
  return httplib::Server::HandlerResponse::Unhandled;
}

void Dashboard::Impl::routes() {
  const auto id = [](const Request& req, const char* what) {
    return parse_id(req.matches[1].str(), what);
  };
  http.Get("/api/experiments", api([this](const Request&) { return experiments(); }));
  http.Get("/api/experiments/([^/]+)", api([this, id](const Request& req) {
             return api_experiment(*store, id(req, "experiment"));
           }));
  http.Get("/api/experiments/([^/]+)/metrics", api([this, id](const Request& req) {
             const int64_t e = id(req, "experiment");
             if (!store->find_experiment(e)) throw HttpError(404, str("no experiment ", e));
             return api_metrics(*store, e, 0, parse_cursor(req.get_param_value("after")));
           }));
  http.Get("/api/trials/([^/]+)",
           api([this, id](const Request& req) { return api_trial(*store, id(req, "trial")); }));
  http.Get("/api/trials/([^/]+)/metrics", api([this, id](const Request& req) {
             const int64_t t = id(req, "trial");
             const std::optional<track::TrialRow> row = store->find_trial(t);
             if (!row) throw HttpError(404, str("no trial ", t));
             return api_metrics(*store, row->experiment_id, t,
                                parse_cursor(req.get_param_value("after")));
           }));
  http.Get("/api/trials/([^/]+)/log",
           api([this, id](const Request& req) { return api_trial_log(*store, id(req, "trial")); }));
  http.Get("/api/demo-summary",
           api([this](const Request&) { return api_demo_summary(options.runs); }));
  http.Get("/api/.*", api([](const Request& req) -> json {
             throw HttpError(404, str("no API route ", req.path.substr(0, 200)));
           }));
  http.Get("/static/([^/]+)", [](const Request& req, Response& res) {
    const Asset* a = asset_find(req.matches[1].str());
    if (a == nullptr) return reply_error(res, 404, "no such file");
    res.set_header("Cache-Control", "no-cache");
    res.set_content(a->bytes.data(), a->bytes.size(), std::string(a->content_type).c_str());
  });
  // Every page is the same shell; its script reads the path and asks the API.
  http.Get(R"((/|/experiments/\d{1,18}|/trials/\d{1,18}|/compare))",
           [](const Request&, Response& res) {
             const Asset* a = asset_find("index.html");
             res.set_header("Cache-Control", "no-cache");
             res.set_content(a->bytes.data(), a->bytes.size(), "text/html; charset=utf-8");
           });
}

Dashboard::Dashboard(const ServeOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->store =
      track::Store::open(track::store_path(options.runs), track::Store::Access::kReadOnly);
  Impl* impl = impl_.get();
  const int threads = std::max(1, options.threads);
  impl->http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  impl->http.set_payload_max_length(kMaxBodyBytes);
  impl->http.set_read_timeout(10);
  impl->http.set_default_headers({{"Content-Security-Policy", kContentSecurityPolicy},
                                  {"X-Content-Type-Options", "nosniff"},
                                  {"X-Frame-Options", "DENY"},
                                  {"Referrer-Policy", "no-referrer"}});
  impl->http.set_pre_routing_handler(
      [impl](const Request& req, Response& res) { return impl->screen(req, res); });
  impl->http.set_error_handler(
      httplib::Server::HandlerWithResponse([](const Request& req, Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // ours
        const std::map<int, std::string> kWhy = {
            {400, "malformed request"},
            {404, str("no such page or file: ", req.path.substr(0, 200))},
            {413, "request body too large"},
            {414, "request URI too long"}};
        const auto it = kWhy.find(res.status);
        reply_error(res, res.status, it != kWhy.end() ? it->second : "request refused");
        return httplib::Server::HandlerResponse::Handled;
      }));
  impl->routes();
}

Dashboard::~Dashboard() = default;

int Dashboard::bind() {
  const ServeOptions& o = impl_->options;
  const bool ok = o.port == 0 ? (impl_->port = impl_->http.bind_to_any_port(o.host)) > 0
                              : impl_->http.bind_to_port(o.host, o.port);
  if (!ok) {
    throw Error(str("cannot listen on ", o.host, ":", o.port,
                    ": the port is taken or the address is not this machine's; choose "
                    "another with --port (0: any free port) or --host"));
  }
  if (o.port != 0) impl_->port = o.port;
  return impl_->port;
}

void Dashboard::run() {
  impl_->http.listen_after_bind();
}

void Dashboard::stop() {
  impl_->http.stop();
}

bool Dashboard::running() const {
  return impl_->http.is_running();
}

std::string Dashboard::url() const {
  const std::string& h = impl_->options.host;
  const std::string host = h.find(':') != std::string::npos ? "[" + h + "]" : h;
  return str("http://", host, ":", impl_->port, "/");
}

}  // namespace llmtune::server
