"""podself.emulator.output: podself's own output never blocks it, whoever reads it."""

from __future__ import annotations

import contextlib
import io
import os

from podself.emulator.output import OutputChannel


class TestOutputChannel:
    """podself's own output never waits for its reader."""

    def test_unread_pipe_does_not_block(self) -> None:
        """Writes to a pipe nobody reads return; what fits waits, the excess is counted."""
        read_fd, write_fd = os.pipe()
        with os.fdopen(write_fd, "wb") as stream:
            channel = OutputChannel(stream, limit=256 << 10)
            for _ in range(64):
                channel.write(b"x" * 8191 + b"\n")  # 512 KiB: more than pipe and limit
            assert channel.backlog > 0
            assert channel.dropped > 0
            received = bytearray()
            os.set_blocking(read_fd, False)
            while channel.backlog:
                with contextlib.suppress(BlockingIOError):
                    received += os.read(read_fd, 1 << 16)
                channel.flush()
            channel.close()
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(read_fd, 1 << 16):
                received += chunk
        os.close(read_fd)
        assert len(received) + channel.dropped == 64 * 8192
        assert set(received) == {ord("x"), ord("\n")}

    def test_finish_gives_up_on_a_reader_that_never_reads(self) -> None:
        """finish() waits a bounded time, then counts what is left and what comes later."""
        read_fd, write_fd = os.pipe()
        with os.fdopen(write_fd, "wb") as stream:
            channel = OutputChannel(stream)
            channel.write(b"z" * (1 << 20))
            left = channel.backlog
            assert left > 0
            channel.finish(0.05)
            channel.write(b"late\n")
        os.close(read_fd)
        assert channel.dropped == left + len(b"late\n")

    def test_reader_gone(self) -> None:
        """A pipe whose reader has closed is given up on, like a broken pipe."""
        read_fd, write_fd = os.pipe()
        os.close(read_fd)
        with os.fdopen(write_fd, "wb") as stream:
            channel = OutputChannel(stream)
            channel.write(b"lost\n")
            assert channel.backlog == 0
            channel.close()

    def test_text_stream(self) -> None:
        """An in-memory text stream is written directly."""
        text = io.StringIO()
        OutputChannel(text).write("é\n".encode())
        assert text.getvalue() == "é\n"
