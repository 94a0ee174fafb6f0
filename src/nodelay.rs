//! `TCP_NODELAY` on sockets a library opens and does not expose: the PostgreSQL
//! connections, which sqlx 0.9.0 no longer sets it on (sqlx issue #4335; fixed upstream by
//! pull request #4336, not yet released), and the implicit-TLS connections to the SMTP
//! relay, which lettre opens itself (`channels::smtp::relay`).
//!
//! Without it, a message that ends in a small TCP segment waits for the peer's delayed
//! ACK, about 40 ms on Linux: intake's `INSERT`s of 2,000 rows took 25 or 67 ms, by that
//! chance alone. So after each connection is made this sets the option on every TCP socket
//! of the process whose peer is that port. On any other socket the option would be
//! harmless; off Linux (no `/proc/self/fd`) nothing is done.

use std::os::fd::{BorrowedFd, RawFd};

use socket2::SockRef;

pub(crate) fn set_on_connections_to(port: u16) {
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    for entry in fds.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<RawFd>().ok())
        else {
            continue;
        };
        // SAFETY: the descriptor was open when listed and is borrowed only for the two
        // calls below. If another thread closed it meanwhile they fail (EBADF), or reach
        // whatever reused the number, which at worst gets TCP_NODELAY too.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = SockRef::from(&fd);
        let to_port = socket
            .peer_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .is_some_and(|a| a.port() == port);
        if to_port {
            let _ = socket.set_tcp_nodelay(true);
        }
    }
}
