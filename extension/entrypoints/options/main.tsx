import { render } from 'preact'
import { OptionsApp } from './options-app.tsx'
import './options.css'

render(<OptionsApp />, document.getElementById('app')!)
