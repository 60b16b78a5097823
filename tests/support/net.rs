//! Local ports for the servers a test starts.

/// A loopback port nothing listens on now (the OS's choice; free until someone binds it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
