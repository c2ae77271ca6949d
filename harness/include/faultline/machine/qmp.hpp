// A synchronous QMP client on QEMU's unix socket. Events that arrive while a
// command waits for its answer are queued for wait_event().
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace faultline {

class QmpClient {
public:
    using Json = nlohmann::json;
    // Called about every 20 ms while waiting; throws to abandon the wait
    // (QEMU died, a deadline passed, the guest panicked...).
    using Tick = std::function<void()>;

    // A tick that throws QmpError ("WHAT: no answer from QEMU in time") once
    // `seconds` have passed: the whole check for a QEMU nobody else watches.
    static Tick within(double seconds, const std::string& what);

    QmpClient() = default;
    ~QmpClient();
    QmpClient(const QmpClient&) = delete;
    QmpClient& operator=(const QmpClient&) = delete;

    // Connects once QEMU has created the socket; negotiates capabilities.
    void connect(const std::string& socket_path, const Tick& tick);
    // Runs a command; returns its "return" value, throws QmpError on "error".
    Json execute(const std::string& command, const Json& arguments, const Tick& tick);
    // qom-get / qom-set of one property of the object at `path`.
    Json qom_get(const std::string& path, const std::string& property, const Tick& tick);
    void qom_set(const std::string& path, const std::string& property, const Json& value,
                 const Tick& tick);
    // Returns the next event named `name`, dropping others before it.
    Json wait_event(const std::string& name, const Tick& tick);
    void close();

private:
    Json read_message(const Tick& tick);
    void send(const Json& message);

    int fd_ = -1;
    std::string buffer_;
    std::deque<Json> events_;
};

}  // namespace faultline
