import { Link } from 'react-router'
import { Title } from '../components/ui'

export function NotFound() {
  return (
    <>
      <Title>Page not found</Title>
      <p>
        Nothing is at this address. <Link to="/">Back to the dashboard</Link>.
      </p>
    </>
  )
}
