import { render } from 'preact'
import { PopupApp } from './popup-app.tsx'
import './popup.css'

render(<PopupApp />, document.getElementById('app')!)
