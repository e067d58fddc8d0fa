// The alert calls of VigieService: WatchAlerts, silences and
// acknowledgements.

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/grpc_service.h"

namespace vigie::services {
namespace {

// A WatchAlerts stream: writes what its watcher's queue holds, one message
// at a time, and sleeps when it is empty until the router's publish wakes
// it (on_ready). Ends when the client cancels, or when the watcher ends
// (cut off for falling behind: RESOURCE_EXHAUSTED; server shutdown:
// UNAVAILABLE). Its callbacks never block.
class WatchReactor final
    : public grpc::ServerWriteReactor<vigie::v1::AlertUpdate> {
 public:
  WatchReactor(AlertRouter* router,
               const vigie::v1::WatchAlertsRequest& request)
      : shared_(std::make_shared<Shared>()) {
    shared_->reactor = this;
    AlertWatchers::Filter filter;
    filter.model_id = request.model_id();
    filter.include_refreshes = request.include_refreshes();
    // on_ready holds the shared part, not the reactor: it may run after
    // the stream is done and the reactor deleted.
    absl::StatusOr<std::shared_ptr<AlertWatchers::Watcher>> watcher =
        router->Watch(std::move(filter), [shared = shared_] { Kick(*shared); });
    if (!watcher.ok()) {
      {
        absl::MutexLock lock(&shared_->mu);
        shared_->finishing = true;
      }
      Finish(ToGrpcStatus(watcher.status()));
      return;
    }
    {
      absl::MutexLock lock(&shared_->mu);
      shared_->watcher = *std::move(watcher);
    }
    Kick(*shared_);
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&shared_->mu);
      shared_->writing = false;
      if (!ok) shared_->broken = true;  // The call is over.
    }
    Kick(*shared_);
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&shared_->mu);
      shared_->broken = true;
    }
    Kick(*shared_);
  }

  void OnDone() override {
    std::shared_ptr<AlertWatchers::Watcher> watcher;
    {
      absl::MutexLock lock(&shared_->mu);
      shared_->reactor = nullptr;
      // The watcher's on_ready holds the shared part, which holds the
      // watcher: let go of it here, or neither is ever freed.
      watcher = std::move(shared_->watcher);
    }
    if (watcher != nullptr) watcher->Close();
    delete this;
  }

 private:
  // What the reactor and its watcher's on_ready share.
  struct Shared {
    absl::Mutex mu;
    // Null once the stream is done.
    WatchReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;
    std::shared_ptr<AlertWatchers::Watcher> watcher ABSL_GUARDED_BY(mu);
    // The message being written: set only while no write is in flight.
    vigie::v1::AlertUpdate current;
    bool writing ABSL_GUARDED_BY(mu) = false;
    bool finishing ABSL_GUARDED_BY(mu) = false;
    // The client went away, or a write failed.
    bool broken ABSL_GUARDED_BY(mu) = false;
  };

  // Starts the next write, or the end, if the stream is idle. gRPC calls
  // are made outside the lock: it may call back on this thread. The
  // reactor cannot be deleted in between, as it is only once Finish,
  // which the thread that set `finishing` calls, completes.
  static void Kick(Shared& shared) {
    WatchReactor* reactor = nullptr;
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&shared.mu);
      if (shared.reactor == nullptr || shared.watcher == nullptr ||
          shared.writing || shared.finishing) {
        return;
      }
      if (shared.broken) {
        finish = grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled");
      } else {
        AlertWatchers::Watcher::Next next = shared.watcher->Take();
        if (next.update.has_value()) {
          shared.current = *std::move(next.update);
          shared.writing = true;
        } else if (next.end.has_value()) {
          finish = ToGrpcStatus(*next.end);
        } else {
          return;  // Nothing yet: on_ready calls again.
        }
      }
      if (finish.has_value()) shared.finishing = true;
      reactor = shared.reactor;
    }
    if (finish.has_value()) {
      reactor->Finish(*finish);
    } else {
      reactor->StartWrite(&shared.current);
    }
  }

  const std::shared_ptr<Shared> shared_;
};

grpc::Status Unimplemented() {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      "this server was started without alert operations");
}

}  // namespace

bool VigieService::HasAlertParts() const {
  return alerts_.router != nullptr && alerts_.silences != nullptr &&
         alerts_.acknowledgements != nullptr && alerts_.clock != nullptr;
}

grpc::ServerWriteReactor<vigie::v1::AlertUpdate>* VigieService::WatchAlerts(
    grpc::CallbackServerContext* /*context*/,
    const vigie::v1::WatchAlertsRequest* request) {
  if (!HasAlertParts()) {
    struct Refused : grpc::ServerWriteReactor<vigie::v1::AlertUpdate> {
      Refused() { Finish(Unimplemented()); }
      void OnDone() override { delete this; }
    };
    return new Refused();
  }
  return new WatchReactor(alerts_.router, *request);
}

grpc::ServerUnaryReactor* VigieService::CreateSilence(
    grpc::CallbackServerContext* context,
    const vigie::v1::CreateSilenceRequest* request, vigie::v1::Silence* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status status = Authorize(*context); !status.ok()) {
    reactor->Finish(std::move(status));
    return reactor;
  }
  if (!HasAlertParts()) {
    reactor->Finish(Unimplemented());
    return reactor;
  }
  absl::StatusOr<vigie::v1::Silence> created =
      alerts_.silences->Create(*request, alerts_.clock->Now());
  if (created.ok()) {
    *reply = *std::move(created);
    // Muting starts now (or the timer starts it later).
    alerts_.router->Refresh();
    alerts_.router->WakeTimer();
  }
  reactor->Finish(ToGrpcStatus(created.status()));
  return reactor;
}

grpc::ServerUnaryReactor* VigieService::ListSilences(
    grpc::CallbackServerContext* context,
    const vigie::v1::ListSilencesRequest* request,
    vigie::v1::ListSilencesReply* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!HasAlertParts()) {
    reactor->Finish(Unimplemented());
    return reactor;
  }
  for (vigie::v1::Silence& silence : alerts_.silences->List(
           request->include_expired(), alerts_.clock->Now())) {
    *reply->add_silences() = std::move(silence);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* VigieService::ExpireSilence(
    grpc::CallbackServerContext* context,
    const vigie::v1::ExpireSilenceRequest* request, vigie::v1::Silence* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status status = Authorize(*context); !status.ok()) {
    reactor->Finish(std::move(status));
    return reactor;
  }
  if (!HasAlertParts()) {
    reactor->Finish(Unimplemented());
    return reactor;
  }
  absl::StatusOr<vigie::v1::Silence> expired =
      alerts_.silences->Expire(request->id(), alerts_.clock->Now());
  if (expired.ok()) {
    *reply = *std::move(expired);
    // What it muted and still fires is delivered now.
    alerts_.router->Refresh();
    alerts_.router->WakeTimer();
  }
  reactor->Finish(ToGrpcStatus(expired.status()));
  return reactor;
}

grpc::ServerUnaryReactor* VigieService::AcknowledgeAlert(
    grpc::CallbackServerContext* context,
    const vigie::v1::AcknowledgeAlertRequest* request,
    vigie::v1::Alert* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status status = Authorize(*context); !status.ok()) {
    reactor->Finish(std::move(status));
    return reactor;
  }
  if (!HasAlertParts()) {
    reactor->Finish(Unimplemented());
    return reactor;
  }
  if (request->fingerprint().empty()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "fingerprint is required"));
    return reactor;
  }
  // Every alert, closed ones too, so that acknowledging a resolved alert
  // says so rather than NOT_FOUND.
  vigie::v1::ListAlertsRequest all;
  all.set_include_resolved(true);
  const vigie::v1::ListAlertsReply listed = pipeline_->ListAlerts(all);
  const vigie::v1::Alert* alert = nullptr;
  for (const vigie::v1::Alert& candidate : listed.alerts()) {
    if (candidate.fingerprint() == request->fingerprint()) alert = &candidate;
  }
  if (alert == nullptr) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                 absl::StrCat("no alert has fingerprint '",
                                              request->fingerprint(), "'")));
    return reactor;
  }
  const absl::Status recorded = alerts_.acknowledgements->Record(
      *alert, request->by(), request->comment(), alerts_.clock->Now());
  if (recorded.ok()) {
    // Watchers and the sinks' next resend get it.
    alerts_.router->Refresh();
    *reply = *alert;
    alerts_.router->Annotate(reply);
  }
  reactor->Finish(ToGrpcStatus(recorded));
  return reactor;
}

}  // namespace vigie::services
