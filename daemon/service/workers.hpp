// A few threads that run the bodies of Async bus methods (Verify, Enroll),
// so that a long enrollment or a slow polkit answer never holds up the bus
// thread, which keeps serving properties and introspection meanwhile.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace anchord::service {

class Workers {
  public:
    // At most `max_queued` jobs wait; more are refused, so a flood of calls
    // cannot grow memory without bound.
    explicit Workers(std::size_t threads, std::size_t max_queued = 64);
    Workers(const Workers&) = delete;
    Workers& operator=(const Workers&) = delete;
    ~Workers();

    // false when the queue is full or the workers are stopping: the caller
    // answers the request itself.
    bool post(std::function<void()> job);

    // Runs what is queued, then joins the threads. Idempotent.
    void stop();

  private:
    void run();

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> queue_;
    std::size_t max_queued_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace anchord::service
