#include "bench/ingest/ingest_stream.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "tools/client.h"
#include "vigie/v1/vigie.grpc.pb.h"

namespace vigie::bench {
namespace {

// Rejections kept from all connections together: enough to diagnose.
constexpr int kMaxKeptRejections = 20;

struct ConnectionResult {
  absl::Status status;
  v1::IngestReply reply;
  absl::Time finished;
};

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

// Serializes `requests` before any timing: see RunConnection.
absl::StatusOr<std::vector<grpc::ByteBuffer>> Encode(
    const std::vector<v1::IngestRequest>& requests) {
  std::vector<grpc::ByteBuffer> encoded(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    bool own = false;
    const grpc::Status serialized =
        grpc::SerializationTraits<v1::IngestRequest>::Serialize(
            requests[i], &encoded[i], &own);
    if (!serialized.ok()) return FromGrpc(serialized);
  }
  return encoded;
}

std::shared_ptr<grpc::Channel> OpenChannel(const std::string& address) {
  grpc::ChannelArguments args;
  // gRPC shares one TCP connection between channels with the same target
  // and arguments; a local pool gives each channel its own, which is the
  // point of several connections.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

// Waits for the completion of the operation tagged `tag` on `cq`; false if
// it failed (the stream broke) or the queue shut down.
bool Await(grpc::CompletionQueue& cq, void* tag) {
  void* got = nullptr;
  bool ok = false;
  return cq.Next(&got, &ok) && got == tag && ok;
}

// How an Ingest call ended.
struct Ended {
  grpc::Status status;
  bool broken = false;  // A write, the half-close or the start failed.
  bool has_reply = false;
  bool ok() const { return status.ok() && !broken && has_reply; }
};

// Ends an Ingest call whose writes are done (or `broken`): half-closes,
// reads the reply into *reply, finishes and drains the queue. A reply that
// does not decode is the status.
Ended EndIngestCall(grpc::GenericClientAsyncReaderWriter& call,
                    grpc::CompletionQueue& cq, bool broken,
                    v1::IngestReply* reply) {
  int done_tag, read_tag, finish_tag;
  Ended ended;
  ended.broken = broken;
  grpc::ByteBuffer bytes;
  if (!ended.broken) {
    call.WritesDone(&done_tag);
    ended.broken = !Await(cq, &done_tag);
  }
  if (!ended.broken) {
    call.Read(&bytes, &read_tag);
    ended.has_reply = Await(cq, &read_tag);
  }
  // After a failure, Finish gives the reason.
  call.Finish(&ended.status, &finish_tag);
  Await(cq, &finish_tag);
  cq.Shutdown();
  void* ignored_tag = nullptr;
  bool ignored_ok = false;
  while (cq.Next(&ignored_tag, &ignored_ok)) {
  }
  if (ended.ok()) {
    ended.status =
        grpc::SerializationTraits<v1::IngestReply>::Deserialize(&bytes, reply);
  }
  return ended;
}

// One connection's stream. Counts down `ready` once connected (or failed),
// then waits for `go`. The requests are serialized before `ready`, and sent
// as bytes through a generic stub: serializing them during the stream
// would time the client's protobuf encoding along with the server, on a
// machine whose cores the two share.
void RunConnection(const std::string& address,
                   const std::vector<v1::IngestRequest>& requests,
                   absl::Duration timeout, absl::BlockingCounter& ready,
                   const absl::Notification& go, std::atomic<uint64_t>& sent,
                   ConnectionResult& result) {
  absl::StatusOr<std::vector<grpc::ByteBuffer>> encoded_or = Encode(requests);
  if (!encoded_or.ok()) {
    result.status = encoded_or.status();
    ready.DecrementCount();
    go.WaitForNotification();
    result.finished = absl::Now();
    return;
  }
  const std::vector<grpc::ByteBuffer>& encoded = *encoded_or;
  std::shared_ptr<grpc::Channel> channel = OpenChannel(address);
  const bool connected = channel->WaitForConnected(
      absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  ready.DecrementCount();
  go.WaitForNotification();
  if (!connected) {
    result.status = absl::UnavailableError("could not connect to " + address);
    result.finished = absl::Now();
    return;
  }
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  // Tags: the address of a local, one per kind of operation.
  int start_tag, write_tag;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(&context, "/vigie.v1.Vigie/Ingest", &cq);
  call->StartCall(&start_tag);
  bool broken = !Await(cq, &start_tag);
  uint64_t mine = 0;
  for (size_t i = 0; i < encoded.size() && !broken; ++i) {
    call->Write(encoded[i], &write_tag);
    if (!Await(cq, &write_tag)) {
      broken = true;
      break;
    }
    const auto n = static_cast<uint64_t>(requests[i].events_size());
    mine += n;
    sent.fetch_add(n, std::memory_order_relaxed);
  }
  const Ended ended = EndIngestCall(*call, cq, broken, &result.reply);
  result.finished = absl::Now();
  if (ended.ok()) return;
  const absl::Status error = ended.status.ok()
                                 ? absl::UnavailableError("stream broke")
                                 : FromGrpc(ended.status);
  result.status = absl::Status(
      error.code(),
      absl::StrCat("after ", mine, " events sent: ", error.message()));
}

void Accumulate(const v1::IngestReply& part, v1::IngestReply& total) {
  total.set_accepted(total.accepted() + part.accepted());
  total.set_rejected(total.rejected() + part.rejected());
  total.set_predictions(total.predictions() + part.predictions());
  total.set_outcomes(total.outcomes() + part.outcomes());
  total.set_joined(total.joined() + part.joined());
  for (const v1::Rejection& r : part.rejections()) {
    if (total.rejections_size() >= kMaxKeptRejections) break;
    *total.add_rejections() = r;
  }
}

// The predictions a window counts in `reply`: those of the first
// attribute's groups together, plus those that lacked it. Empty without a
// group attribute.
std::optional<uint64_t> WindowPredictions(const v1::GetMetricsReply& reply) {
  // A multiclass model's fairness is per class, each over every prediction.
  const auto& fairness = reply.fairness_by_class().empty()
                             ? reply.fairness()
                             : reply.fairness_by_class(0).fairness();
  if (fairness.empty()) return std::nullopt;
  const v1::AttributeFairness& attribute = fairness[0];
  return attribute.overall().predictions() + attribute.missing();
}

// One GetMetrics answer of the latency run.
struct Observation {
  absl::Time answered;
  uint64_t predictions = 0;  // In the window (or the counters).
};

// Queries `model_id` every `interval` until `stop`, or until the count
// reaches `target` once `sent_all` is notified; appends to `seen`.
absl::Status Watch(const std::string& address, const LatencyOptions& options,
                   uint64_t target, const absl::Notification& sent_all,
                   const absl::Notification& stop, LatencyStats& stats,
                   std::vector<Observation>& seen) {
  ASSIGN_OR_RETURN(std::unique_ptr<tools::VigieClient> client,
                   tools::VigieClient::Connect(address, absl::Seconds(30)));
  v1::GetMetricsRequest request;
  request.set_model_id(options.model_id);
  const absl::Time deadline = absl::Now() + options.timeout;
  while (!stop.HasBeenNotified()) {
    const absl::Time asked = absl::Now();
    absl::StatusOr<v1::GetMetricsReply> reply =
        client->GetMetrics(request, absl::Seconds(30));
    const absl::Time answered = absl::Now();
    ++stats.queries;
    stats.query_time += answered - asked;
    uint64_t predictions = 0;
    if (reply.ok()) {
      if (std::optional<uint64_t> windowed = WindowPredictions(*reply)) {
        predictions = *windowed;
        stats.counted =
            "fairness overall + missing predictions of the first attribute, "
            "whole window";
      } else {
        predictions = reply->counters().predictions();
        stats.counted =
            "counters.predictions (not windowed: no group attribute)";
      }
    } else if (reply.status().code() != absl::StatusCode::kNotFound) {
      // kNotFound: the model has seen nothing yet.
      return reply.status();
    }
    seen.push_back({answered, predictions});
    if (sent_all.HasBeenNotified() && predictions >= target) break;
    if (answered > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "the window counted ", predictions, " of ", target,
          " predictions after ", absl::FormatDuration(options.timeout)));
    }
    const absl::Duration rest = asked + options.query_interval - absl::Now();
    if (rest > absl::ZeroDuration()) absl::SleepFor(rest);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<StreamStats> StreamLoad(const std::string& address,
                                       const IngestLoad& load,
                                       const StreamLoadOptions& options) {
  const size_t n = load.connections.size();
  std::vector<ConnectionResult> results(n);
  std::atomic<uint64_t> sent{0};
  std::atomic<size_t> done{0};
  absl::BlockingCounter ready(static_cast<int>(n));
  absl::Notification go;
  std::vector<std::thread> threads;
  for (size_t c = 0; c < n; ++c) {
    threads.emplace_back([&, c] {
      RunConnection(address, load.connections[c], options.timeout, ready, go,
                    sent, results[c]);
      done.fetch_add(1);
    });
  }
  // Connection set-up is not part of the timed ingest.
  ready.Wait();
  const absl::Time start = absl::Now();
  go.Notify();
  absl::Time last_progress = start;
  while (done.load() < n) {
    absl::SleepFor(absl::Milliseconds(20));
    const absl::Time now = absl::Now();
    if (options.on_progress &&
        now - last_progress >= options.progress_interval) {
      last_progress = now;
      options.on_progress(sent.load(std::memory_order_relaxed), now - start);
    }
  }
  for (std::thread& t : threads) t.join();

  StreamStats stats;
  stats.events_sent = sent.load();
  absl::Time end = start;
  for (size_t c = 0; c < n; ++c) {
    const ConnectionResult& r = results[c];
    if (!r.status.ok()) {
      return absl::Status(
          r.status.code(),
          absl::StrCat("connection ", c, " of ", n, ": ", r.status.message()));
    }
    Accumulate(r.reply, stats.reply);
    end = std::max(end, r.finished);
  }
  stats.elapsed = end - start;
  return stats;
}

absl::StatusOr<LatencyStats> MeasureLatency(
    const std::string& address, const std::vector<v1::IngestRequest>& requests,
    const LatencyOptions& options) {
  if (!(options.rate > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rate must be > 0, got ", options.rate));
  }
  ASSIGN_OR_RETURN(const std::vector<grpc::ByteBuffer> encoded,
                   Encode(requests));
  // thresholds[i]: predictions sent up to and including request i.
  std::vector<uint64_t> thresholds(requests.size());
  std::vector<bool> has_predictions(requests.size());
  uint64_t predictions = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const uint64_t before = predictions;
    for (const v1::Event& event : requests[i].events()) {
      if (event.has_prediction()) ++predictions;
    }
    thresholds[i] = predictions;
    has_predictions[i] = predictions > before;
  }

  std::shared_ptr<grpc::Channel> channel = OpenChannel(address);
  if (!channel->WaitForConnected(
          absl::ToChronoTime(absl::Now() + absl::Seconds(30)))) {
    return absl::UnavailableError("could not connect to " + address);
  }
  LatencyStats stats;
  stats.offered_rate = options.rate;
  std::vector<Observation> seen;
  absl::Notification sent_all;
  absl::Notification stop;
  absl::Status watched;
  std::thread watcher([&] {
    watched = Watch(address, options, predictions, sent_all, stop, stats, seen);
  });

  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  int start_tag, write_tag;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(&context, "/vigie.v1.Vigie/Ingest", &cq);
  call->StartCall(&start_tag);
  bool broken = !Await(cq, &start_tag);
  std::vector<absl::Time> scheduled(requests.size());
  uint64_t events_before = 0;
  const absl::Time start = absl::Now();
  absl::Time last_sent = start;
  for (size_t i = 0; i < encoded.size() && !broken; ++i) {
    scheduled[i] = start + absl::Seconds(static_cast<double>(events_before) /
                                         options.rate);
    const absl::Time now = absl::Now();
    if (scheduled[i] > now) {
      absl::SleepFor(scheduled[i] - now);
    } else if (now - scheduled[i] > absl::Milliseconds(1)) {
      ++stats.late_sends;
    }
    last_sent = absl::Now();
    call->Write(encoded[i], &write_tag);
    broken = !Await(cq, &write_tag);
    if (!broken) {
      events_before += static_cast<uint64_t>(requests[i].events_size());
    }
  }
  const Ended ended = EndIngestCall(*call, cq, broken, &stats.stream.reply);
  stats.stream.elapsed = absl::Now() - start;
  stats.stream.events_sent = events_before;
  const grpc::Status& status = ended.status;
  broken = ended.broken;
  const bool has_reply = ended.has_reply;
  // The watcher stops by itself once the window holds every prediction; a
  // broken stream, or one with rejected events, would never get there (the
  // caller reports the rejections).
  if (broken || !status.ok() || !has_reply ||
      stats.stream.reply.rejected() > 0) {
    stop.Notify();
  }
  sent_all.Notify();
  watcher.join();
  if (!status.ok()) return FromGrpc(status);
  if (broken || !has_reply) {
    return absl::UnavailableError(
        absl::StrCat("stream broke after ", events_before, " events sent"));
  }
  RETURN_IF_ERROR(watched);
  const double send_seconds = absl::ToDoubleSeconds(last_sent - start);
  stats.achieved_rate =
      send_seconds > 0 ? static_cast<double>(events_before) / send_seconds : 0;

  // Counts never go down, so one pass pairs each request with the first
  // answer that counted it.
  size_t o = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    if (!has_predictions[i]) continue;
    while (o < seen.size() && seen[o].predictions < thresholds[i]) ++o;
    // Only with rejected events, which fail the run.
    if (o == seen.size()) break;
    stats.latencies.push_back(seen[o].answered - scheduled[i]);
  }
  return stats;
}

}  // namespace vigie::bench
