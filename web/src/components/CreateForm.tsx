import { useState, type FormEvent, type ReactNode } from 'react'
import { ErrorBox, Field, fieldErrors } from './ui'

export interface FormField {
  name: string
  label: string
  type?: string
  hint?: string
  initial?: string
}

/**
 * CreateForm is a panel with a few text fields and a submit button; the
 * server's problems show next to the fields they name, others above.
 * submit resolves when created (the fields are then emptied).
 */
export function CreateForm(props: {
  title: string
  fields: FormField[]
  button: string
  submit: (values: Record<string, string>) => Promise<unknown>
  children?: ReactNode
}) {
  const initial = () => Object.fromEntries(props.fields.map((f) => [f.name, f.initial ?? '']))
  const [values, setValues] = useState<Record<string, string>>(initial)
  const [error, setError] = useState<unknown>()
  const errors = fieldErrors(error)
  const onSubmit = async (e: FormEvent) => {
    e.preventDefault()
    setError(undefined)
    try {
      await props.submit(values)
      setValues(initial())
    } catch (err) {
      setError(err)
    }
  }
  return (
    <form className="panel" onSubmit={(e) => void onSubmit(e)} noValidate>
      <h2>{props.title}</h2>
      {error !== undefined && !props.fields.some((f) => errors[f.name]) && <ErrorBox error={error} />}
      <div className="grid2">
        {props.fields.map((f) => (
          <Field key={f.name} label={f.label} name={f.name} errors={errors} hint={f.hint}>
            {(p) => (
              <input {...p} type={f.type ?? 'text'} value={values[f.name]} autoComplete="off" onChange={(e) => setValues({ ...values, [f.name]: e.target.value })} />
            )}
          </Field>
        ))}
      </div>
      <button type="submit" className="primary">
        {props.button}
      </button>
      {props.children}
    </form>
  )
}
