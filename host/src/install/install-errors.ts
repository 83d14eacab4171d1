/** Codes of the installer (install/). */
export const InstallError = {
  /** The install receipt is damaged, so uninstall cannot tell what install wrote. */
  BAD_RECEIPT: 'BAD_RECEIPT',
  /** None of the browsers asked for is installed. */
  NO_BROWSER: 'NO_BROWSER'
} as const
