/**
 * The extension's manifest key (public half only; the private key is not needed for unpacked or
 * store builds). It fixes the extension id, which the native host manifest names in allowed_origins.
 */
export const EXTENSION_PUBLIC_KEY =
  'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAnJ3QjattYLNSA0swrx+ijE8oqMaWuvK+XzMUxYU/2LfROT0J5Rmk0w+4PAOLRLV/bVHCCBSIR05bq4K+umVLT9apwSytuhqAHx02XRaUpZ7kzzTvn1G5Cjk7O4Kg8gLYJXr2n+1eycmRzW0oJhq+uCriLJOsCJsBarwtt+VefHGW5EIEm4zabHZcsI+YjSeHiSKXLqWmBPdJt5n5hYdH7EqQo+LOJZH6IH6qXDWzc0S0fyunMy82EpFtR8KTsrzpgfeMs7qGabmQ/ttyMFCpKyvW6V57MfUE5J38sujTt1ASW4540y5+JVDmw1EsOEdSnL/+EBC4ZMIwJmSFDBZBvwIDAQAB'

/** Chromium's extension id: the first 16 bytes of SHA-256(DER public key), hex digits mapped 0-f -> a-p. */
export async function extensionIdFromKey(publicKeyBase64: string): Promise<string> {
  const der = Uint8Array.from(atob(publicKeyBase64), (c) => c.charCodeAt(0))
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', der))
  let id = ''
  for (const byte of digest.subarray(0, 16)) id += String.fromCharCode(97 + (byte >> 4)) + String.fromCharCode(97 + (byte & 15))
  return id
}

/** extensionIdFromKey(EXTENSION_PUBLIC_KEY), precomputed; a unit test checks they agree. */
export const EXTENSION_ID = 'nnefkmkijkgddjmegjppdpdjajepfbii'
/** Firefox add-on id (browser_specific_settings.gecko.id), named by the host manifest's allowed_extensions. */
export const FIREFOX_ADDON_ID = 'macro-vpn@macrovpn.org'
