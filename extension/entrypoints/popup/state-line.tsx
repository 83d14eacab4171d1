import type { Status } from '../../../shared/native-protocol.ts'

/** The one-line text for a host-confirmed status. */
export function stateText(status: Status): string {
  switch (status.state) {
    case 'off':
      return 'Off'
    case 'connecting':
      return 'Connecting…'
    case 'connected':
      return 'Connected'
    case 'disconnecting':
      return 'Disconnecting…'
    case 'error':
      return `Error: ${status.error?.message ?? 'the host reported an error without details.'}`
  }
}

export function StateLine({ status }: { status: Status }) {
  return (
    <p class={`state state-${status.state}`} data-testid="state" data-state={status.state} role="status">
      {stateText(status)}
    </p>
  )
}
