/**
 * Built-in bypass rule groups the user can switch on and then edit. Each rule is an ordinary
 * bypass rule (shared/bypass-rule-parser.ts); a domain rule covers its subdomains.
 */
export interface BypassPreset {
  id: string
  name: string
  description: string
  rules: string[]
}

export const BYPASS_PRESETS: readonly BypassPreset[] = Object.freeze(
  [
    {
      id: 'banking',
      name: 'Banking sites',
      description: 'Major banks and payment services that often block or challenge logins from VPN exits.',
      rules: [
        'paypal.com',
        'paypalobjects.com',
        'venmo.com',
        'chase.com',
        'bankofamerica.com',
        'wellsfargo.com',
        'citi.com',
        'citibank.com',
        'capitalone.com',
        'usbank.com',
        'pnc.com',
        'americanexpress.com',
        'discover.com',
        'schwab.com',
        'fidelity.com',
        'hsbc.com',
        'hsbc.co.uk',
        'barclays.co.uk',
        'lloydsbank.com',
        'natwest.com',
        'santander.co.uk',
        'revolut.com',
        'wise.com',
        'monzo.com',
        'n26.com',
        'ing.com',
        'deutsche-bank.de',
        'commbank.com.au',
        'rbcroyalbank.com',
        'td.com',
        'klarna.com',
        'stripe.com'
      ]
    },
    {
      id: 'streaming',
      name: 'Streaming services',
      description: "Video and music services that refuse to play, or show another country's catalogue, through a VPN.",
      rules: [
        'netflix.com',
        'nflxvideo.net',
        'nflximg.net',
        'nflxext.com',
        'nflxso.net',
        'hulu.com',
        'hulustream.com',
        'disneyplus.com',
        'disney-plus.net',
        'bamgrid.com',
        'primevideo.com',
        'aiv-cdn.net',
        'max.com',
        'hbomax.com',
        'peacocktv.com',
        'paramountplus.com',
        'crunchyroll.com',
        'bbc.co.uk',
        'bbci.co.uk',
        'spotify.com',
        'scdn.co',
        'twitch.tv',
        'ttvnw.net',
        'jtvnw.net',
        'dazn.com'
      ]
    },
    {
      id: 'local',
      name: 'Local network',
      description: 'Your router, printers and other devices: localhost, names without a dot, and private network addresses.',
      rules: ['<local>']
    }
  ].map((preset) => Object.freeze({ ...preset, rules: Object.freeze([...preset.rules]) as string[] }))
)

export function findBypassPreset(id: string): BypassPreset | undefined {
  return BYPASS_PRESETS.find((preset) => preset.id === id)
}
