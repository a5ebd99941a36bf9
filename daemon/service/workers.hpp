// Threads that run the bodies of Async bus methods, so that a long
// enrollment or a slow polkit answer never holds up the bus thread, which
// keeps serving properties and introspection meanwhile. Two lanes: reads
// (Verify) and changes (Enroll, Remove, Seal, Reconcile, ReloadPolicy).
// Changes wait for one another on the manager's lock; on a lane of their
// own they never take every thread from the reads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace anchord::service {

enum class Lane { Read, Change };

class Workers {
  public:
    // `threads` threads per lane. At most `max_queued` jobs wait in each
    // lane; more are refused, so a flood of calls cannot grow memory
    // without bound. Once no change came for `quiet_before_trim` after the
    // last one, the heap's free memory goes back to the system.
    explicit Workers(std::size_t threads, std::size_t max_queued = 64,
                     std::chrono::milliseconds quiet_before_trim = std::chrono::milliseconds(500));
    Workers(const Workers&) = delete;
    Workers& operator=(const Workers&) = delete;
    ~Workers();

    // false when the lane's queue is full or the workers are stopping: the
    // caller answers the request itself.
    bool post(std::function<void()> job, Lane lane = Lane::Read);

    // Runs what is queued, then joins the threads. Idempotent.
    void stop();

  private:
    struct Queue {
        std::deque<std::function<void()>> jobs;
    };
    void run(Queue& queue);

    std::mutex mutex_;
    std::condition_variable wake_;
    Queue reads_;
    Queue changes_;
    std::size_t max_queued_;
    std::chrono::milliseconds quiet_before_trim_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace anchord::service
