/**
 * Binding and listening as promises: resolves once the socket or server is bound, rejects with
 * the bind error (EADDRINUSE, EACCES, …) and leaves no listener of ours behind either way.
 */
import type dgram from 'node:dgram'
import type net from 'node:net'

export function bindUdp(socket: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(port, address, () => {
      socket.off('error', reject)
      resolve()
    })
  })
}

/** A connected UDP socket: the kernel delivers only the peer's datagrams, and send() needs no address. */
export function connectUdp(socket: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject)
    socket.connect(port, address, () => {
      socket.off('error', reject)
      resolve()
    })
  })
}

/** listen(port, host) or listen(path) for a TCP/Unix server. */
export function listenServer(server: net.Server, ...where: [port: number, host: string] | [path: string]): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    const done = (): void => {
      server.off('error', reject)
      resolve()
    }
    if (where.length === 1) server.listen(where[0], done)
    else server.listen(where[0], where[1], done)
  })
}
