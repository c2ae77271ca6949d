#include "faultline/machine/qmp.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "faultline/machine/errors.hpp"

namespace faultline {

namespace {
constexpr int kTickMs = 20;
// QEMU closes its QMP socket as it exits, a moment before it can be reaped
// (longer on a loaded host): the ticks get this long to say why it went.
constexpr int kExitGraceMs = 2000;
}

QmpClient::~QmpClient() { close(); }

void QmpClient::close() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

QmpClient::Tick QmpClient::within(double seconds, const std::string& what) {
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double>(seconds));
    return [deadline, what] {
        if (std::chrono::steady_clock::now() > deadline) {
            throw QmpError(what + ": no answer from QEMU in time");
        }
    };
}

void QmpClient::connect(const std::string& socket_path, const Tick& tick) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof(addr.sun_path)) {
        throw ConfigError("QMP socket path too long for a unix socket: " + socket_path);
    }
    std::strcpy(addr.sun_path, socket_path.c_str());
    for (;;) {
        fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) {
            throw QmpError(std::string("socket: ") + strerror(errno));
        }
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
            break;
        }
        close();
        tick();
        std::this_thread::sleep_for(std::chrono::milliseconds(kTickMs));
    }
    Json greeting = read_message(tick);
    if (!greeting.contains("QMP")) {
        throw QmpError("unexpected QMP greeting: " + greeting.dump());
    }
    execute("qmp_capabilities", Json::object(), tick);
}

void QmpClient::send(const Json& message) {
    std::string line = message.dump() + "\n";
    size_t done = 0;
    while (done < line.size()) {
        ssize_t n = ::send(fd_, line.data() + done, line.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            throw QmpError(std::string("QMP send: ") + strerror(errno));
        }
        done += size_t(n);
    }
}

QmpClient::Json QmpClient::read_message(const Tick& tick) {
    for (;;) {
        size_t newline = buffer_.find('\n');
        if (newline != std::string::npos) {
            std::string line = buffer_.substr(0, newline);
            buffer_.erase(0, newline + 1);
            try {
                return Json::parse(line);
            } catch (const Json::parse_error& e) {
                throw QmpError(std::string("QMP sent malformed JSON: ") + e.what());
            }
        }
        pollfd p{fd_, POLLIN, 0};
        int r = poll(&p, 1, kTickMs);
        if (r == 0 || (r < 0 && errno == EINTR)) {
            tick();
            continue;
        }
        char chunk[65536];
        ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            // QEMU exiting is the usual cause: let the caller say so.
            for (int waited = 0; waited < kExitGraceMs; waited += kTickMs) {
                tick();
                std::this_thread::sleep_for(std::chrono::milliseconds(kTickMs));
            }
            throw QmpError("QMP connection closed");
        }
        buffer_.append(chunk, size_t(n));
    }
}

QmpClient::Json QmpClient::execute(const std::string& command, const Json& arguments,
                                   const Tick& tick) {
    if (fd_ < 0) {
        throw QmpError("QMP not connected");
    }
    Json request = {{"execute", command}};
    if (!arguments.empty()) {
        request["arguments"] = arguments;
    }
    send(request);
    for (;;) {
        Json reply = read_message(tick);
        if (reply.contains("event")) {
            events_.push_back(std::move(reply));
        } else if (reply.contains("return")) {
            return reply["return"];
        } else if (reply.contains("error")) {
            throw QmpError(command + ": " + reply["error"].value("desc", reply.dump()));
        } else {
            throw QmpError("unexpected QMP reply to " + command + ": " + reply.dump());
        }
    }
}

QmpClient::Json QmpClient::qom_get(const std::string& path, const std::string& property,
                                   const Tick& tick) {
    return execute("qom-get", {{"path", path}, {"property", property}}, tick);
}

void QmpClient::qom_set(const std::string& path, const std::string& property, const Json& value,
                        const Tick& tick) {
    execute("qom-set", {{"path", path}, {"property", property}, {"value", value}}, tick);
}

QmpClient::Json QmpClient::wait_event(const std::string& name, const Tick& tick) {
    for (;;) {
        while (!events_.empty()) {
            Json event = std::move(events_.front());
            events_.pop_front();
            if (event["event"] == name) {
                return event;
            }
        }
        Json message = read_message(tick);
        if (message.contains("event")) {
            events_.push_back(std::move(message));
        }
    }
}

}  // namespace faultline
