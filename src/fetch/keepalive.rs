//! One liveness probe per reuse of a kept-alive connection. ureq checks a connection both
//! when it goes back into the pool and when it is taken out again, each time with a
//! non-blocking read (two `ioctl`s and a `recv`): for back-to-back requests that is six system
//! calls per request spent asking the same question twice within microseconds (60,000 of the
//! 169,000 of a 10,000-page `--update` rerun). A probe that said "open" stands for the next
//! one if no I/O happened in between and it is younger than [`FRESH`]. The check that
//! matters, at return to the pool after a response (the server sent bytes after the body, or
//! closed), always probes: a response means I/O since the last probe. Only a connection
//! handed back within 2 ms of being taken out with no I/O at all skips it.

use std::time::{Duration, Instant};

use ureq::Error;
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, NextTimeout, Transport};

/// How long an "open" answer stands for the next probe: far shorter than any server's
/// keep-alive timeout, so a connection closed while idle is still found out.
const FRESH: Duration = Duration::from_millis(2);

/// The outermost connector of the chain: wraps whatever transport the chain made.
#[derive(Debug, Default)]
pub(super) struct ProbeOnce;

impl<In: Transport> Connector<In> for ProbeOnce {
    type Out = Probed<In>;

    fn connect(
        &self,
        _details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, Error> {
        Ok(chained.map(|inner| Probed {
            inner,
            open_at: None,
        }))
    }
}

/// A transport whose last "open" answer is remembered until the next I/O.
#[derive(Debug)]
pub(super) struct Probed<T> {
    inner: T,
    open_at: Option<Instant>,
}

impl<T: Transport> Transport for Probed<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        self.open_at = None;
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.open_at = None;
        self.inner.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        if self.open_at.take().is_some_and(|at| at.elapsed() < FRESH) {
            return true;
        }
        let open = self.inner.is_open();
        if open {
            self.open_at = Some(Instant::now());
        }
        open
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::unversioned::transport::LazyBuffers;

    /// A connection whose liveness is set by the test; counts the probes that reach it.
    #[derive(Debug)]
    struct Fake {
        buffers: LazyBuffers,
        open: bool,
        probes: usize,
    }

    impl Transport for Fake {
        fn buffers(&mut self) -> &mut dyn Buffers {
            &mut self.buffers
        }
        fn transmit_output(&mut self, _: usize, _: NextTimeout) -> Result<(), Error> {
            Ok(())
        }
        fn await_input(&mut self, _: NextTimeout) -> Result<bool, Error> {
            Ok(true)
        }
        fn is_open(&mut self) -> bool {
            self.probes += 1;
            self.open
        }
    }

    fn probed(open: bool) -> Probed<Fake> {
        let inner = Fake {
            buffers: LazyBuffers::new(16, 16),
            open,
            probes: 0,
        };
        Probed {
            inner,
            open_at: None,
        }
    }

    #[test]
    fn back_to_back_checks_probe_the_socket_once() {
        let mut t = probed(true);
        assert!(t.is_open(), "back into the pool");
        assert!(t.is_open(), "out of the pool");
        assert_eq!(t.inner.probes, 1);
        // The remembered answer stands for one check only.
        assert!(t.is_open());
        assert_eq!(t.inner.probes, 2);
    }

    #[test]
    fn any_io_or_a_pause_means_a_new_probe() {
        let mut t = probed(true);
        assert!(t.is_open());
        t.transmit_output(0, NextTimeout::default()).expect("write");
        assert!(t.is_open());
        assert_eq!(t.inner.probes, 2, "after a write");
        t.await_input(NextTimeout::default()).expect("read");
        assert!(t.is_open());
        assert_eq!(t.inner.probes, 3, "after a read");
        std::thread::sleep(FRESH * 2);
        t.inner.open = false;
        assert!(!t.is_open(), "a connection closed while idle is found out");
        assert_eq!(t.inner.probes, 4);
    }

    #[test]
    fn a_closed_connection_is_never_remembered_as_open() {
        let mut t = probed(false);
        assert!(!t.is_open());
        t.inner.open = true;
        assert!(t.is_open());
        assert_eq!(t.inner.probes, 2);
    }
}
