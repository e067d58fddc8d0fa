#include "services/grpc_service.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "google/protobuf/arena.h"
#include "services/event_bytes.h"

namespace vigie::services {
namespace {

// Reads a stream's requests on gRPC's threads and hands each, as received,
// to the stream's receiving thread, where it is parsed into an arena of its
// own, validated, encoded and written to the ingest log; then applies them
// in log order on the ingest worker. gRPC reads the next request while the
// receiving thread works on one and the worker applies another: at most
// kInFlight requests per stream between their read and their application,
// so the client's flow control still paces it. A request read is applied
// even if the stream breaks later; after a failed one the stream ends with
// its error and the requests behind it are not applied (their records, if
// logged, are voided).
class IngestReactor final : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  IngestReactor(Pipeline* pipeline, IngestWorker* receiver,
                IngestWorker* worker, grpc::ByteBuffer* reply)
      : pipeline_(pipeline),
        receiver_(receiver),
        worker_(worker),
        reply_(reply) {
    absl::MutexLock lock(&mu_);
    reading_ = true;
    StartRead(&incoming_);
  }

  void OnReadDone(bool ok) override {
    bool read_next = false;
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      reading_ = false;
      if (!ok) {  // The client closed its side, or the call ended.
        closed_ = true;
        finish = MaybeFinish();
      } else {
        std::shared_ptr<Job> job = TakeIncoming();
        ++in_flight_;
        ++receiving_;
        receiver_->Submit([this, job] { Receive(job); });
        read_next = MaybeReadNext();
      }
    }
    // Outside the lock: gRPC may call back on this thread, and after Finish
    // the reactor may be deleted at any moment.
    if (read_next) StartRead(&incoming_);
    if (finish.has_value()) Finish(*finish);
  }

  void OnDone() override { delete this; }

 private:
  // One being read, one received, one applied.
  static constexpr int kInFlight = 3;

  struct Job {
    // The request as received (one slice, or its slices joined), and as
    // parsed into an arena of its own: its thousands of small messages and
    // strings are then freed at once. Its predictions' features are mostly
    // left out of the parse (ParseIngestRequest): the pipeline reads them
    // from `bytes`.
    grpc::Slice slice;
    std::string joined;
    absl::string_view bytes;
    google::protobuf::Arena arena;
    vigie::v1::IngestRequest* request = nullptr;
    ArrivedEvents arrived;  // Views into `bytes`.
    uint64_t index = 0;     // The request's number in the stream, from 1.
    uint64_t offset = 0;    // Stream index of the request's first event.
    Pipeline::Received received;
    uint64_t seq = 0;  // In the ingest log.
  };

  // The request just read, its bytes taken out of incoming_ so that the
  // next one can be read into it.
  std::shared_ptr<Job> TakeIncoming() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto job = std::make_shared<Job>();
    std::vector<grpc::Slice> slices;
    if (!incoming_.Dump(&slices).ok()) slices.clear();
    if (slices.size() == 1) {
      job->slice = std::move(slices[0]);
      job->bytes = absl::string_view(
          reinterpret_cast<const char*>(job->slice.begin()), job->slice.size());
    } else {
      for (const grpc::Slice& slice : slices) {
        job->joined.append(reinterpret_cast<const char*>(slice.begin()),
                           slice.size());
      }
      job->bytes = job->joined;
    }
    incoming_.Clear();
    return job;
  }

  // On the receiving thread, one request of the stream at a time, in the
  // order they were read: parses, validates, encodes and logs it, and hands
  // it to the worker; unless an earlier one failed.
  void Receive(const std::shared_ptr<Job>& job) {
    bool skip = false;
    {
      absl::MutexLock lock(&mu_);
      skip = failed_.has_value();
    }
    std::optional<grpc::Status> failure;
    bool logged = false;
    if (!skip) {
      job->index = ++requests_;
      job->request =
          google::protobuf::Arena::CreateMessage<vigie::v1::IngestRequest>(
              &job->arena);
      if (!ParseIngestRequest(job->bytes, job->request, &job->arrived)) {
        failure = grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            absl::StrCat("request ", requests_,
                         " of the stream is not a vigie.v1.IngestRequest"));
      } else {
        job->offset = offset_;
        offset_ += static_cast<uint64_t>(job->request->events_size());
        job->received = pipeline_->Receive(*job->request, job->arrived);
        const absl::Status status =
            pipeline_->Log(job->received, [&](uint64_t seq) {
              job->seq = seq;
              logged = true;
              worker_->Submit([this, job] { Apply(*job); });
            });
        if (!status.ok()) failure = ToGrpcStatus(status);
      }
    }
    bool read_next = false;
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      --receiving_;
      if (!logged) --in_flight_;  // Else the worker's, once applied.
      if (failure.has_value()) Fail(job->index, *failure);
      read_next = MaybeReadNext();
      finish = MaybeFinish();
    }
    if (read_next) StartRead(&incoming_);
    if (finish.has_value()) Finish(*finish);
  }

  // On the worker.
  void Apply(Job& job) {
    bool skip = false;
    {
      absl::MutexLock lock(&mu_);
      skip = job.index > failed_request_;
    }
    absl::StatusOr<vigie::v1::IngestReply> part;
    if (skip) {
      if (absl::Status voided = pipeline_->Abandon(job.seq); !voided.ok()) {
        VIGIE_LOG(Error, "cannot void the ingest log record of a request ",
                  "behind a failed one: ", voided.ToString());
      }
    } else {
      part = pipeline_->ApplyLogged(*job.request, job.offset,
                                    std::move(job.received), job.seq);
    }
    bool read_next = false;
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      --in_flight_;
      if (!skip) {
        if (part.ok()) {
          AccumulateReply(*part, &total_);
        } else {
          Fail(job.index, ToGrpcStatus(part.status()));
        }
      }
      read_next = MaybeReadNext();
      finish = MaybeFinish();
    }
    if (read_next) StartRead(&incoming_);
    if (finish.has_value()) Finish(*finish);
  }

  // Records the failure of the stream's `request`-th request: the stream
  // ends with it, and the requests after it are not applied; those before
  // it still are. The first in stream order wins.
  void Fail(uint64_t request, grpc::Status status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (request >= failed_request_) return;
    failed_request_ = request;
    failed_ = std::move(status);
  }

  // Whether to read the next request now (then reading_ is set).
  bool MaybeReadNext() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reading_ || closed_ || failed_.has_value() || finished_ ||
        in_flight_ >= kInFlight) {
      return false;
    }
    reading_ = true;
    return true;
  }

  // The status to finish with, once: after the last request was applied,
  // when the client closed its side or a request failed. The reply is
  // written out then.
  std::optional<grpc::Status> MaybeFinish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || in_flight_ > 0 || receiving_ > 0 ||
        (!closed_ && !failed_.has_value())) {
      return std::nullopt;
    }
    finished_ = true;
    if (failed_.has_value()) return failed_;
    grpc::Slice slice(total_.SerializeAsString());
    *reply_ = grpc::ByteBuffer(&slice, 1);
    return grpc::Status::OK;
  }

  Pipeline* const pipeline_;
  IngestWorker* const receiver_;
  IngestWorker* const worker_;
  grpc::ByteBuffer* const reply_;
  absl::Mutex mu_;
  // Where gRPC reads the next request into; one read at a time.
  grpc::ByteBuffer incoming_;
  vigie::v1::IngestReply total_ ABSL_GUARDED_BY(mu_);
  // The receiving thread's only.
  uint64_t offset_ = 0;
  uint64_t requests_ = 0;
  // Requests read and not yet applied (or dropped), and those of them on
  // the receiving thread: the reactor finishes only once both are zero.
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int receiving_ ABSL_GUARDED_BY(mu_) = 0;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> failed_ ABSL_GUARDED_BY(mu_);
  uint64_t failed_request_ ABSL_GUARDED_BY(mu_) = UINT64_MAX;
};

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

void AccumulateReply(const vigie::v1::IngestReply& part,
                     vigie::v1::IngestReply* total) {
  total->set_accepted(total->accepted() + part.accepted());
  total->set_rejected(total->rejected() + part.rejected());
  total->set_predictions(total->predictions() + part.predictions());
  total->set_outcomes(total->outcomes() + part.outcomes());
  total->set_joined(total->joined() + part.joined());
  for (const vigie::v1::Rejection& rejection : part.rejections()) {
    if (total->rejections_size() >= VigieService::kMaxListedRejections) break;
    *total->add_rejections() = rejection;
  }
}

grpc::Status VigieService::Authorize(
    const grpc::CallbackServerContext& context) const {
  if (token_.empty()) return grpc::Status::OK;
  const std::string expected = "Bearer " + token_;
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  bool match = false;
  if (it != metadata.end() && it->second.size() == expected.size()) {
    // Compared in full whatever differs first: no timing hint.
    unsigned char differ = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
      differ |= static_cast<unsigned char>(it->second.data()[i] ^ expected[i]);
    }
    match = differ == 0;
  }
  if (match) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      it == metadata.end()
                          ? "this call needs \"authorization: Bearer <token>\" "
                            "metadata (auth.bearer_token_file)"
                          : "wrong bearer token");
}

VigieService::VigieService(Pipeline* pipeline, AlertParts alerts)
    : pipeline_(pipeline), alerts_(alerts) {
  const size_t cores = std::max(1u, std::thread::hardware_concurrency());
  for (size_t i = 0; i < std::min<size_t>(cores, 16); ++i) {
    receivers_.push_back(std::make_unique<IngestWorker>());
  }
}

grpc::ServerReadReactor<grpc::ByteBuffer>* VigieService::Ingest(
    grpc::CallbackServerContext* context, grpc::ByteBuffer* reply) {
  if (grpc::Status status = Authorize(*context); !status.ok()) {
    struct Refused : grpc::ServerReadReactor<grpc::ByteBuffer> {
      explicit Refused(grpc::Status why) { Finish(std::move(why)); }
      void OnDone() override { delete this; }
    };
    return new Refused(std::move(status));
  }
  IngestWorker* receiver =
      receivers_[next_receiver_.fetch_add(1) % receivers_.size()].get();
  return new IngestReactor(pipeline_, receiver, &worker_, reply);
}

grpc::ServerUnaryReactor* VigieService::IngestBatch(
    grpc::CallbackServerContext* context,
    const vigie::v1::IngestRequest* request, vigie::v1::IngestReply* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status status = Authorize(*context); !status.ok()) {
    reactor->Finish(std::move(status));
    return reactor;
  }
  // The pipeline normalises events in place; the request is const.
  auto events = std::make_shared<vigie::v1::IngestRequest>(*request);
  auto received =
      std::make_shared<Pipeline::Received>(pipeline_->Receive(*events));
  const absl::Status logged = pipeline_->Log(*received, [&](uint64_t seq) {
    worker_.Submit([this, reactor, reply, events, received, seq] {
      absl::StatusOr<vigie::v1::IngestReply> result = pipeline_->ApplyLogged(
          *events, /*index_offset=*/0, std::move(*received), seq);
      if (result.ok()) AccumulateReply(*result, reply);
      reactor->Finish(ToGrpcStatus(result.status()));
    });
  });
  if (!logged.ok()) reactor->Finish(ToGrpcStatus(logged));
  return reactor;
}

grpc::ServerUnaryReactor* VigieService::GetMetrics(
    grpc::CallbackServerContext* context,
    const vigie::v1::GetMetricsRequest* request,
    vigie::v1::GetMetricsReply* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<vigie::v1::GetMetricsReply> result =
      pipeline_->GetMetrics(*request);
  if (result.ok()) *reply = *std::move(result);
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

grpc::ServerUnaryReactor* VigieService::UploadReference(
    grpc::CallbackServerContext* context,
    const vigie::v1::UploadReferenceRequest* request,
    vigie::v1::ReferenceInfo* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status status = Authorize(*context); !status.ok()) {
    reactor->Finish(std::move(status));
    return reactor;
  }
  // Validation normalises predictions in place (a missing decision).
  vigie::v1::UploadReferenceRequest upload = *request;
  absl::StatusOr<vigie::v1::ReferenceInfo> result =
      pipeline_->UploadReference(upload);
  if (result.ok()) *reply = *std::move(result);
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

grpc::ServerUnaryReactor* VigieService::GetReference(
    grpc::CallbackServerContext* context,
    const vigie::v1::GetReferenceRequest* request,
    vigie::v1::ReferenceInfo* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<vigie::v1::ReferenceInfo> result =
      pipeline_->GetReference(*request);
  if (result.ok()) *reply = *std::move(result);
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

grpc::ServerUnaryReactor* VigieService::PutCatalogue(
    grpc::CallbackServerContext* context,
    const vigie::v1::PutCatalogueRequest* request,
    vigie::v1::CatalogueInfo* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status status = Authorize(*context); !status.ok()) {
    reactor->Finish(std::move(status));
    return reactor;
  }
  absl::StatusOr<vigie::v1::CatalogueInfo> result =
      pipeline_->PutCatalogue(*request);
  if (result.ok()) *reply = *std::move(result);
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

grpc::ServerUnaryReactor* VigieService::GetCatalogue(
    grpc::CallbackServerContext* context,
    const vigie::v1::GetCatalogueRequest* request,
    vigie::v1::CatalogueInfo* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<vigie::v1::CatalogueInfo> result =
      pipeline_->GetCatalogue(*request);
  if (result.ok()) *reply = *std::move(result);
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

grpc::ServerUnaryReactor* VigieService::PurgeModel(
    grpc::CallbackServerContext* context,
    const vigie::v1::PurgeModelRequest* request,
    vigie::v1::PurgeModelReply* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status status = Authorize(*context); !status.ok()) {
    reactor->Finish(std::move(status));
    return reactor;
  }
  absl::StatusOr<vigie::v1::PurgeModelReply> result =
      pipeline_->PurgeModel(*request);
  if (result.ok()) *reply = *std::move(result);
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

grpc::ServerUnaryReactor* VigieService::ListAlerts(
    grpc::CallbackServerContext* context,
    const vigie::v1::ListAlertsRequest* request,
    vigie::v1::ListAlertsReply* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  *reply = pipeline_->ListAlerts(*request);
  if (alerts_.router != nullptr) {
    for (vigie::v1::Alert& alert : *reply->mutable_alerts()) {
      alerts_.router->Annotate(&alert);
    }
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* VigieService::ListAlertHistory(
    grpc::CallbackServerContext* context,
    const vigie::v1::ListAlertHistoryRequest* request,
    vigie::v1::ListAlertHistoryReply* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<vigie::v1::ListAlertHistoryReply> result =
      pipeline_->ListAlertHistory(*request);
  if (result.ok()) *reply = *std::move(result);
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

}  // namespace vigie::services
