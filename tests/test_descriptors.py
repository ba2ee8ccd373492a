"""Writing all of a buffer to a file descriptor, however many writes it takes."""

from __future__ import annotations

import os

import pytest

from renderer.descriptors import write_all

DATA = bytes(range(256)) * 1024  # 256 KiB: more than a pipe holds


@pytest.fixture
def pipe():
    reader, writer = os.pipe()
    os.set_blocking(writer, False)
    yield reader, writer
    os.close(reader)
    os.close(writer)


def drain(reader: int, into: bytearray) -> None:
    os.set_blocking(reader, False)
    try:
        while chunk := os.read(reader, 1 << 16):
            into += chunk
    except BlockingIOError:
        pass


def test_a_full_pipe_is_waited_for_until_everything_is_written(pipe):
    reader, writer = pipe
    read, waits = bytearray(), []
    write_all(writer, DATA, lambda: (waits.append(1), drain(reader, read)))
    drain(reader, read)
    assert bytes(read) == DATA and waits


def test_without_a_wait_a_full_pipe_is_the_callers_error(pipe):
    with pytest.raises(BlockingIOError):
        write_all(pipe[1], DATA)


def test_a_wait_that_gives_up_stops_the_write(pipe):
    def give_up():
        raise TimeoutError("nobody reads")

    with pytest.raises(TimeoutError):
        write_all(pipe[1], memoryview(DATA), give_up)


def test_a_file_gets_every_byte(tmp_path):
    fd = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        write_all(fd, DATA)
        write_all(fd, b"")
    finally:
        os.close(fd)
    assert (tmp_path / "out").read_bytes() == DATA
